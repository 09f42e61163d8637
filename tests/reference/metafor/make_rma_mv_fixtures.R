# Reference numbers for strigil.meta's multilevel/multivariate models (rma.mv), cluster-robust
# inference, vcalc and the fit statistics of rma, computed by R's metafor, clubSandwich and numDeriv.
#
# Run from the repository root:  Rscript tests/reference/metafor/make_rma_mv_fixtures.R
# Writes rma_mv.json, robust.json, vcalc.json and rma_extras.json next to this script (layout in
# README.md). Needs the Debian packages r-cran-metafor, r-cran-clubsandwich, r-cran-numderiv.

suppressPackageStartupMessages({
  library(metafor)
  library(clubSandwich)
  library(numDeriv)
})

out_dir <- "tests/reference/metafor"
if (!dir.exists(out_dir)) stop("run from the repository root")
source(file.path(out_dir, "json_helpers.R"))  # fmt1, vec, num, mat, chr, write_json_file

META <- list(
  metafor = as.character(packageVersion("metafor")),
  clubSandwich = as.character(packageVersion("clubSandwich")),
  metadat = as.character(packageVersion("metadat")),
  numDeriv = as.character(packageVersion("numDeriv")),
  R = R.version.string,
  generated = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
  polish = paste("variance components: metafor's nlminb fit, then Newton steps on metafor's own",
                 "log-likelihood at fixed components (numDeriv), then a refit started there"),
  confint_control = list(tol = 1e-10)
)

# rma(): tight convergence (as make_fixtures.R) so that differences come from the algorithm
CTRL_UNI <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5, tol = 1e-12)
rma_t <- function(...) {
  cl <- match.call()
  cl[[1]] <- quote(rma)
  cl$control <- CTRL_UNI
  eval(cl, parent.frame())
}

# ---------------------------------------------------------------- sampling covariances
# A block-diagonal V as its blocks: rows (0-based, into the data) and the block itself.
v_blocks <- function(V, cluster) {
  V <- as.matrix(V)
  lapply(unique(cluster), function(cl) {
    rows <- which(cluster == cl)
    list(rows = vec(rows - 1), block = mat(V[rows, rows, drop = FALSE]))
  })
}

# ---------------------------------------------------------------- polishing the components
# nlminb stops on a relative change of the log-likelihood; on a flat likelihood that leaves a
# variance component only ~1e-6 accurate (Ishak AR: tau^2 off by 3e-6). Newton steps on metafor's
# own restricted log-likelihood at fixed components, with numDeriv's Richardson derivatives, reach
# the optimum; a refit started there keeps every other output metafor's own.
free_components <- function(res) {
  out <- list()
  add <- function(comp, values, fixed) {
    for (j in seq_along(values)) if (!fixed[j]) out[[length(out) + 1]] <<- list(comp = comp, pos = j, value = values[j])
  }
  if (res$withS) add("sigma2", res$sigma2, res$vc.fix$sigma2)
  if (res$withG) {
    add("tau2", res$tau2, res$vc.fix$tau2)
    add("rho", res$rho, res$vc.fix$rho)
  }
  out
}

component_args <- function(res, comps, th) {
  args <- list()
  if (res$withS) args$sigma2 <- ifelse(res$vc.fix$sigma2, res$sigma2, NA)
  if (res$withG) {
    args$tau2 <- ifelse(res$vc.fix$tau2, res$tau2, NA)
    args$rho <- ifelse(res$vc.fix$rho, res$rho, NA)
  }
  for (i in seq_along(comps)) args[[comps[[i]]$comp]][comps[[i]]$pos] <- th[i]
  args
}

polish <- function(fit, res) {
  comps <- free_components(res)
  if (length(comps) == 0) return(res)
  interior <- vapply(comps, function(c) if (c$comp == "rho") abs(c$value) < 1 - 1e-6 else c$value > 1e-6, TRUE)
  if (!all(interior)) return(res)  # estimates on a boundary stay as metafor found them
  ll <- function(th) as.numeric(logLik(do.call(fit, component_args(res, comps, th))))
  th <- vapply(comps, function(c) c$value, 0)
  for (it in 1:8) {
    step <- -solve(hessian(ll, th), grad(ll, th))
    th <- th + step
    if (max(abs(step) / pmax(abs(th), 1e-8)) < 1e-11) break
  }
  start <- component_args(res, comps, th)
  init <- list()
  if (res$withS) init$sigma2.init <- ifelse(is.na(start$sigma2) | start$sigma2 <= 0, 0.01, start$sigma2)
  if (res$withG) {
    init$tau2.init <- ifelse(is.na(start$tau2) | start$tau2 <= 0, 0.01, start$tau2)
    init$rho.init <- ifelse(is.na(start$rho), 0, start$rho)
  }
  fixed <- list()
  if (res$withS && any(res$vc.fix$sigma2)) fixed$sigma2 <- ifelse(res$vc.fix$sigma2, res$sigma2, NA)
  if (res$withG && any(res$vc.fix$tau2)) fixed$tau2 <- ifelse(res$vc.fix$tau2, res$tau2, NA)
  if (res$withG && any(res$vc.fix$rho)) fixed$rho <- ifelse(res$vc.fix$rho, res$rho, NA)
  # metafor's Cholesky parametrisation of UN would move nlminb off the optimum again (by 1e-7)
  out <- do.call(fit, c(fixed, list(control = c(init, list(cholesky = FALSE)))))
  got <- vapply(free_components(out), function(c) c$value, 0)
  if (max(abs(got - th) / pmax(abs(th), 1e-8)) > 1e-8) stop("the refit did not stay at the polished optimum")
  out
}

# ---------------------------------------------------------------- recording a fit
fit_stats <- function(res) {
  fs <- res$fit.stats
  one <- function(col) list(ll = num(fs["ll", col]), dev = num(fs["dev", col]), AIC = num(fs["AIC", col]),
                            BIC = num(fs["BIC", col]), AICc = num(fs["AICc", col]))
  list(ML = one("ML"), REML = one("REML"), parms = res$parms)
}

record_mv <- function(res) {
  rec <- list(
    coef_names = chr(rownames(res$beta)), b = vec(res$beta), se = vec(res$se), zval = vec(res$zval),
    pval = vec(res$pval), ci_lb = vec(res$ci.lb), ci_ub = vec(res$ci.ub), vb = mat(res$vb),
    k = res$k, p = res$p, ddf = if (res$test == "t") vec(res$ddf) else NULL,
    QE = num(res$QE), QEp = num(res$QEp), QE_df = res$k - res$p,
    QM = num(res$QM), QMdf = vec(res$QMdf), QMp = num(res$QMp), btt = vec(res$btt),
    fit_stats = fit_stats(res))
  if (res$withS) {
    rec$sigma2 <- vec(res$sigma2)
    rec$s_nlevels <- vec(res$s.nlevels)
    rec$s_names <- chr(res$s.names)
    rec$sigma2_fixed <- I(res$vc.fix$sigma2)
  }
  if (res$withG) {
    rec$struct <- res$struct[1]
    rec$tau2 <- vec(res$tau2)
    rec$rho <- vec(res$rho)
    rec$G <- mat(res$G)
    rec$g_levels <- chr(res$g.levels.f[[1]])
    rec$g_nlevels <- vec(res$g.nlevels)
    rec$tau2_fixed <- I(res$vc.fix$tau2)
    rec$rho_fixed <- I(res$vc.fix$rho)
  }
  rec
}

record_confint <- function(res) {
  comps <- free_components(res)
  if (length(comps) == 0) return(NULL)
  ci <- confint(res, control = list(tol = 1e-10))
  if (inherits(ci, "confint.rma")) ci <- list(ci)
  lapply(seq_along(comps), function(i) {
    r <- ci[[i]]$random[1, ]
    list(comp = comps[[i]]$comp, pos = comps[[i]]$pos, estimate = num(r["estimate"]),
         ci_lb = num(r["ci.lb"]), ci_ub = num(r["ci.ub"]), lb_sign = ci[[i]]$lb.sign, ub_sign = ci[[i]]$ub.sign)
  })
}

record_predict <- function(res, newmods = NULL, tau2_levels = NULL, intercept = NULL) {
  args <- list(res)
  if (!is.null(newmods)) args$newmods <- newmods
  if (!is.null(tau2_levels)) args$tau2.levels <- tau2_levels
  if (!is.null(intercept)) args$intercept <- intercept
  pr <- do.call(predict, args)
  list(newmods = if (is.null(newmods)) NULL else mat(rbind(newmods)),
       tau2_levels = if (is.null(tau2_levels)) NULL else chr(tau2_levels),
       intercept = intercept,
       pred = vec(pr$pred), se = vec(pr$se), ci_lb = vec(pr$ci.lb), ci_ub = vec(pr$ci.ub),
       pi_lb = vec(pr$pi.lb), pi_ub = vec(pr$pi.ub))
}

record_ranef <- function(res) {
  re <- ranef(res)
  lapply(re, function(d) list(levels = chr(trimws(rownames(d))), pred = vec(d$intrcpt), se = vec(d$se),
                              pi_lb = vec(d$pi.lb), pi_ub = vec(d$pi.ub)))
}

record_wald <- function(res, btt = NULL, L = NULL) {
  if (!is.null(btt)) {
    a <- anova(res, btt = btt)
    return(list(btt = vec(btt), QM = num(a$QM), QMdf = vec(a$QMdf), QMp = num(a$QMp)))
  }
  a <- anova(res, X = L)
  list(L = mat(rbind(L)), Xb = vec(a$Xb), se = vec(a$se), zval = vec(a$zval), pval = vec(a$pval),
       QM = num(a$QM), QMdf = vec(a$QMdf), QMp = num(a$QMp))
}

record_lrt <- function(full, reduced, reduced_id) {
  a <- anova(full, reduced)
  list(reduced = reduced_id, LRT = num(a$LRT), pval = num(a$pval), parms_f = a$parms.f, parms_r = a$parms.r)
}

# ---------------------------------------------------------------- rma.mv cases
mv_cases <- list()
fits <- list()
add_mv <- function(id, note, data, yi, V, mods, random = NULL, struct = "CS", method = "REML",
                   test = "z", fixed = list(), columns = character(0), cluster_for_V = NULL,
                   confint = TRUE, ranef = TRUE, predict = list(), wald = list(), lrt = list()) {
  fit <- function(...) {
    args <- c(list(yi = yi, V = V, mods = mods, data = data, method = method, test = test), list(...))
    if (!is.null(random)) args$random <- random
    if (!is.null(random) && any(grepl("^~1", gsub(" ", "", sapply(random, deparse))) == FALSE)) args$struct <- struct
    do.call(rma.mv, args)
  }
  res <- polish(fit, do.call(fit, fixed))
  fits[[id]] <<- res
  Vm <- if (is.null(dim(V))) diag(V, length(V)) else as.matrix(V)
  diagonal <- all(Vm[row(Vm) != col(Vm)] == 0)
  X <- model.matrix(mods, data = data)
  int_incl <- colnames(X)[1] == "(Intercept)"
  case <- list(
    id = id, note = note, method = method, test = test,
    random = if (is.null(random)) NULL else chr(vapply(random, function(f) paste(deparse(f), collapse = ""), "")),
    struct = if (res$withG) struct else NULL,
    fixed = lapply(fixed, vec),
    yi = vec(yi), vi = if (diagonal) vec(diag(Vm)) else NULL,
    V_blocks = if (diagonal) NULL else v_blocks(Vm, cluster_for_V),
    intercept = int_incl, X = mat(if (int_incl) X[, -1, drop = FALSE] else X),
    columns = lapply(data[columns], chr),
    fit = record_mv(res))
  if (confint) case$confint <- record_confint(res)
  if (ranef && (res$withS || res$withG)) case$ranef <- record_ranef(res)
  case$predict <- lapply(predict, function(p) do.call(record_predict, c(list(res), p)))
  case$wald <- lapply(wald, function(w) do.call(record_wald, c(list(res), w)))
  case$lrt <- lapply(lrt, function(r) record_lrt(res, fits[[r]], r))
  mv_cases[[length(mv_cases) + 1]] <<- case
  invisible(res)
}

# Konstantopoulos (2011): 56 schools in 11 districts, three-level model.
ko <- dat.konstantopoulos2011
ko$year_c <- ko$year - mean(ko$year)
add_mv("konst/reml/~1|district/school/sigma2_2_fixed", "one component fixed (sigma2 = c(NA, 0.03))",
       ko, ko$yi, ko$vi, ~ 1, list(~ 1 | district/school), fixed = list(sigma2 = c(NA, 0.03)),
       columns = c("district", "school"), ranef = FALSE)
add_mv("konst/reml/~1|district/school/sigma2_1_zero", "district level removed (sigma2 = c(0, NA))",
       ko, ko$yi, ko$vi, ~ 1, list(~ 1 | district/school), fixed = list(sigma2 = c(0, NA)),
       columns = c("district", "school"), confint = FALSE, ranef = FALSE)
add_mv("konst/reml/~1|district/school", "dat.konstantopoulos2011, three-level model",
       ko, ko$yi, ko$vi, ~ 1, list(~ 1 | district/school), columns = c("district", "school"),
       predict = list(list()),
       lrt = list("konst/reml/~1|district/school/sigma2_1_zero"))
add_mv("konst/ml/~1|district/school", "dat.konstantopoulos2011, three-level model, ML",
       ko, ko$yi, ko$vi, ~ 1, list(~ 1 | district/school), method = "ML", columns = c("district", "school"),
       ranef = FALSE, predict = list(list()))
add_mv("konst/ml/~1|district/school/year", "ML with the centred year as moderator",
       ko, ko$yi, ko$vi, ~ year_c, list(~ 1 | district/school), method = "ML", columns = c("district", "school"),
       confint = FALSE, ranef = FALSE, lrt = list("konst/ml/~1|district/school"))
add_mv("konst/reml/t/~1|district/school/year", "REML, t tests, centred year as moderator",
       ko, ko$yi, ko$vi, ~ year_c, list(~ 1 | district/school), test = "t", columns = c("district", "school"),
       predict = list(list(newmods = c(-10, 0, 10))),
       wald = list(list(btt = 2), list(L = c(1, 5)), list(L = rbind(c(1, -5), c(1, 5)))))
add_mv("konst/reml/~school|district/CS", "the three-level model written as a CS structure",
       ko, ko$yi, ko$vi, ~ 1, list(~ factor(school) | district), struct = "CS", columns = c("district", "school"),
       predict = list(list()))

# Berkey et al. (1998): two outcomes (probing depth, attachment level) in 5 trials, known covariances.
be <- dat.berkey1998
Vb <- bldiag(lapply(split(be[, c("v1i", "v2i")], be$trial), as.matrix))
be$year_c <- be$year - 1983
for (s in c("UN", "HCS", "CS", "DIAG")) {
  add_mv(paste0("berkey/reml/~outcome|trial/", s), paste("dat.berkey1998, multivariate model, struct", s),
         be, be$yi, Vb, ~ outcome - 1, list(~ outcome | trial), struct = s, columns = c("trial", "outcome"),
         cluster_for_V = be$trial, confint = s %in% c("UN", "CS"), ranef = s == "UN",
         predict = if (s == "UN") list(list(newmods = diag(2), tau2_levels = c("AL", "PD"))) else list(),
         wald = if (s == "UN") list(list(L = c(1, -1))) else list())
}
add_mv("berkey/reml/~outcome|trial/UN/year", "dat.berkey1998, UN, outcome-specific year slopes",
       be, be$yi, Vb, ~ outcome + outcome:year_c - 1, list(~ outcome | trial), struct = "UN",
       columns = c("trial", "outcome"), cluster_for_V = be$trial, confint = FALSE, ranef = FALSE,
       wald = list(list(btt = 3:4)))
add_mv("berkey/ml/~outcome|trial/UN", "dat.berkey1998, UN, ML",
       be, be$yi, Vb, ~ outcome - 1, list(~ outcome | trial), struct = "UN", method = "ML",
       columns = c("trial", "outcome"), cluster_for_V = be$trial, confint = FALSE, ranef = FALSE)

# Ishak et al. (2007): change in UPDRS at up to four time points, AR(1) true effects over time,
# sampling errors correlated 0.97^|lag| as in metafor's analysis of these data (vcalc).
ish <- reshape(dat.ishak2007, direction = "long", idvar = "study", v.names = c("yi", "vi"),
               varying = list(c(2, 4, 6, 8), c(3, 5, 7, 9)))
ish <- ish[order(ish$study, ish$time), ]
ish <- ish[!is.na(ish$yi), ]
rownames(ish) <- NULL
Vi <- vcalc(vi, cluster = study, time1 = time, phi = 0.97, data = ish)
for (s in c("AR", "HAR")) {
  add_mv(paste0("ishak/reml/~time|study/", s), paste("dat.ishak2007 (long), struct", s),
         ish, ish$yi, Vi, ~ factor(time) - 1, list(~ time | study), struct = s, columns = c("study", "time"),
         cluster_for_V = ish$study, confint = s == "AR", ranef = s == "AR",
         predict = if (s == "AR") list(list(newmods = diag(4), tau2_levels = 1:4)) else list(),
         wald = if (s == "AR") list(list(L = rbind(c(1, -1, 0, 0), c(0, 1, -1, 0), c(0, 0, 1, -1)))) else list())
}

# Gleser & Olkin (2009), chapter 19 of The Handbook of Research Synthesis and Meta-Analysis
# (2nd ed.): their illustrative multiple-treatment and multiple-endpoint data, as printed there.
gm <- data.frame(study = c(1, 1, 2, 3, 3, 3), trt = c(1, 2, 1, 1, 2, 3),
                 ai = c(40, 40, 10, 150, 150, 150), n1i = c(1000, 1000, 200, 2000, 2000, 2000),
                 ci = c(100, 150, 15, 40, 80, 50), n2i = c(4000, 4000, 400, 1000, 1000, 1000))
gm$trt <- factor(gm$trt)
common_control <- function(d, cov_of) {
  # effects sharing a study's one control group covary through that group's sampling variance
  bldiag(lapply(split(d, d$study), function(x) {
    v <- matrix(cov_of(x[1, ]), nrow(x), nrow(x))
    diag(v) <- x$vi
    v
  }))
}
g_rd <- escalc(measure = "RD", ai = ai, ci = ci, n1i = n1i, n2i = n2i, data = gm)
V_rd <- common_control(g_rd, function(x) (x$ai / x$n1i) * (1 - x$ai / x$n1i) / x$n1i)
add_mv("gleser/multitreatment/RD", "Gleser & Olkin (2009) multiple-treatment studies, risk differences",
       g_rd, as.numeric(g_rd$yi), V_rd, ~ 0 + trt, columns = c("study", "trt"), cluster_for_V = gm$study,
       wald = list(list(L = rbind(c(1, -1, 0), c(1, 0, -1)))))
g_or <- escalc(measure = "OR", ai = ai, ci = ci, n1i = n1i, n2i = n2i, data = gm)
V_or <- common_control(g_or, function(x) 1 / (x$n1i * (x$ai / x$n1i) * (1 - x$ai / x$n1i)))
add_mv("gleser/multitreatment/OR", "Gleser & Olkin (2009) multiple-treatment studies, log odds ratios",
       g_or, as.numeric(g_or$yi), V_or, ~ 0 + trt, columns = c("study", "trt"), cluster_for_V = gm$study)
ge <- data.frame(school = rep(1:7, each = 2), outcome = rep(c("math", "reading"), times = 7),
                 m1i = c(2.3, 2.5, 2.4, 1.3, 2.5, 2.4, 3.3, 1.7, 1.1, 2.0, 2.8, 2.1, 1.7, 0.6),
                 m2i = c(10.3, 6.6, 9.7, 3.1, 8.7, 3.7, 7.5, 8.5, 2.2, 2.1, 3.8, 1.4, 1.8, 3.9),
                 sdpi = c(8.2, 7.3, 8.3, 8.9, 8.5, 8.3, 7.7, 9.8, 9.1, 10.4, 9.6, 7.9, 9.2, 10.2),
                 ri = rep(c(.55, .43, .57, .66, .51, .59, .49), each = 2),
                 n1i = rep(c(22, 21, 26, 18, 38, 42, 39), each = 2),
                 n2i = rep(c(24, 21, 23, 18, 36, 42, 38), each = 2))
# standardized mean differences, their variances and covariances rounded as in the chapter
ge$yi <- round((ge$m2i - ge$m1i) / ge$sdpi, 3)
ge$vi <- round(1 / ge$n1i + 1 / ge$n2i + ge$yi^2 / (2 * (ge$n1i + ge$n2i)), 4)
yprod <- rep(vapply(split(ge$yi, ge$school), prod, 0), each = 2)
ge$covi <- round((1 / ge$n1i + 1 / ge$n2i) * ge$ri + yprod / (2 * (ge$n1i + ge$n2i)) * ge$ri^2, 4)
V_ge <- bldiag(lapply(split(ge, ge$school), function(x) matrix(c(x$vi[1], x$covi[1], x$covi[2], x$vi[2]), 2)))
add_mv("gleser/multiendpoint/SMD", "Gleser & Olkin (2009) multiple-endpoint studies (math, reading)",
       ge, ge$yi, V_ge, ~ 0 + outcome, columns = c("school", "outcome"), cluster_for_V = ge$school)
add_mv("gleser/multiendpoint/SMD/~outcome|school/CS", "the same with CS random effects within school",
       ge, ge$yi, V_ge, ~ 0 + outcome, list(~ outcome | school), struct = "CS",
       columns = c("school", "outcome"), cluster_for_V = ge$school,
       predict = list(list(newmods = diag(2))))

# BCG (Colditz et al., 1994): one random effect per trial equals rma(); absolute latitude.
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add_mv("bcg/reml/~1|trial/ablat", "dat.bcg log risk ratios, ~ 1 | trial (equals rma REML)",
       bcg, as.numeric(bcg$yi), as.numeric(bcg$vi), ~ ablat, list(~ 1 | trial), columns = c("trial", "alloc"),
       predict = list(list(newmods = c(10, 30, 50))))

# Assink & Wibbelink (2016): 100 effects in 17 studies; three-level model with V from vcalc (rho 0.6).
as16 <- dat.assink2016
V_as <- vcalc(vi, cluster = study, obs = esid, rho = 0.6, data = as16)
add_mv("assink/reml/~1|study/esid/vcalc", "dat.assink2016, three-level model, V from vcalc(rho = 0.6)",
       as16, as16$yi, V_as, ~ 1, list(~ 1 | study/esid), columns = c("study", "esid"),
       cluster_for_V = as16$study, ranef = FALSE)

# ---------------------------------------------------------------- cluster-robust inference
TYPES <- c("CR0", "CR1", "CR1p", "CR1S", "CR2")
COEF_TESTS <- c("z", "naive-t", "naive-tp", "Satterthwaite")
WALD_TESTS <- c("chi-sq", "Naive-F", "Naive-Fp", "HTZ")

robust_cases <- list()
add_robust <- function(id, model, res, cluster, constraints) {
  out <- list(id = id, model = model, cluster = chr(cluster), constraints = lapply(constraints, mat),
              types = list())
  for (type in TYPES) {
    vc <- vcovCR(res, cluster = cluster, type = type)
    ct <- coef_test(res, vcov = vc, test = COEF_TESTS)
    ci <- conf_int(res, vcov = vc, test = "Satterthwaite", level = 0.95)
    wald <- lapply(constraints, function(C) {
      w <- Wald_test(res, constraints = C, vcov = vc, test = WALD_TESTS)
      lapply(split(w, w$test), function(r) list(Fstat = num(r$Fstat), delta = num(r$delta),
                                                df_num = num(r$df_num), df_denom = num(r$df_denom),
                                                p_val = num(r$p_val)))
    })
    out$types[[type]] <- list(
      vcov = mat(unclass(vc)), SE = vec(ct$SE), tstat = vec(ct$tstat),
      p_z = vec(ct$p_z), df_t = vec(ct$df_t), p_t = vec(ct$p_t), df_tp = vec(ct$df_tp), p_tp = vec(ct$p_tp),
      df_Satt = vec(ct$df_Satt), p_Satt = vec(ct$p_Satt), CI_L = vec(ci$CI_L), CI_U = vec(ci$CI_U),
      wald = wald)
  }
  rec_rob <- function(r) list(b = vec(r$beta), se = vec(r$se), zval = vec(r$zval), pval = vec(r$pval),
                              ci_lb = vec(r$ci.lb), ci_ub = vec(r$ci.ub), dfs = vec(r$dfs),
                              QM = num(r$QM), QMdf = vec(r$QMdf), QMp = num(r$QMp), vb = mat(r$vb))
  out$metafor <- rec_rob(robust(res, cluster = cluster))
  out$metafor_clubSandwich <- rec_rob(robust(res, cluster = cluster, clubSandwich = TRUE))
  robust_cases[[length(robust_cases) + 1]] <<- out
}

add_robust("konst/district", list(kind = "rma_mv", case = "konst/reml/~1|district/school"),
           fits[["konst/reml/~1|district/school"]], ko$district, list(matrix(1, 1, 1)))
add_robust("konst/year/district", list(kind = "rma_mv", case = "konst/reml/t/~1|district/school/year"),
           fits[["konst/reml/t/~1|district/school/year"]], ko$district,
           list(matrix(c(0, 1), 1), diag(2)))
add_robust("berkey/UN/trial", list(kind = "rma_mv", case = "berkey/reml/~outcome|trial/UN"),
           fits[["berkey/reml/~outcome|trial/UN"]], be$trial, list(matrix(c(1, -1), 1), diag(2)))
add_robust("ishak/AR/study", list(kind = "rma_mv", case = "ishak/reml/~time|study/AR"),
           fits[["ishak/reml/~time|study/AR"]], ish$study,
           list(rbind(c(1, -1, 0, 0), c(0, 1, -1, 0), c(0, 0, 1, -1))))
add_robust("assink/study", list(kind = "rma_mv", case = "assink/reml/~1|study/esid/vcalc"),
           fits[["assink/reml/~1|study/esid/vcalc"]], as16$study, list(matrix(1, 1, 1)))
add_robust("bcg_mv/trial", list(kind = "rma_mv", case = "bcg/reml/~1|trial/ablat"),
           fits[["bcg/reml/~1|trial/ablat"]], bcg$trial, list(matrix(c(0, 1), 1)))
# rma.uni fits of the BCG trials: each trial its own cluster, and the 3 allocation schemes as clusters
bcg_uni <- rma_t(yi, vi, mods = ~ ablat, data = bcg)
add_robust("bcg_uni/ablat/trial",
           list(kind = "rma", yi = vec(bcg$yi), vi = vec(bcg$vi), X = mat(cbind(bcg$ablat)),
                mod_names = chr("ablat"), method = "REML"),
           bcg_uni, bcg$trial, list(matrix(c(0, 1), 1), diag(2)))
bcg_int <- rma_t(yi, vi, data = bcg, method = "DL")
add_robust("bcg_uni/int/DL/alloc",
           list(kind = "rma", yi = vec(bcg$yi), vi = vec(bcg$vi), X = NULL, mod_names = NULL, method = "DL"),
           bcg_int, bcg$alloc, list(matrix(1, 1, 1)))

# ---------------------------------------------------------------- vcalc
vcalc_cases <- list()
add_vcalc <- function(id, note, args, data) {
  V <- do.call(vcalc, c(args, list(data = data)))
  spec <- lapply(args, function(a) if (is.name(a)) as.character(a) else a)
  vcalc_cases[[length(vcalc_cases) + 1]] <<- list(
    id = id, note = note,
    data = lapply(data, function(x) if (is.numeric(x)) vec(x) else chr(x)),
    args = lapply(spec, function(a) if (is.numeric(a) && length(a) == 1) num(a) else if (is.numeric(a)) vec(a) else a),
    V = mat(V))
}
add_vcalc("ishak/time1/phi", "AR(1) sampling errors over time (phi = 0.97)",
          list(vi = quote(vi), cluster = quote(study), time1 = quote(time), phi = 0.97),
          ish[ish$study %in% unique(ish$study)[1:10], c("study", "time", "vi")])
add_vcalc("assink/obs/rho", "effects within a study correlated rho = 0.6",
          list(vi = quote(vi), cluster = quote(study), obs = quote(esid), rho = 0.6),
          as16[as16$study %in% 1:4, c("study", "esid", "vi")])
vd <- data.frame(cluster = c(1, 1, 1, 1, 2, 2, 2, 3, 3),
                 type = c("pain", "pain", "function", "function", "pain", "function", "function", "pain", "pain"),
                 obs = c("vas", "nprs", "odi", "rmdq", "vas", "odi", "rmdq", "vas", "nprs"),
                 time1 = c(1, 1, 1, 1, 1, 1, 2, 1, 2),
                 vi = c(0.04, 0.05, 0.03, 0.06, 0.02, 0.05, 0.07, 0.09, 0.08))
add_vcalc("constructed/type+obs", "within-construct rho 0.7, between-construct rho 0.3",
          list(vi = quote(vi), cluster = quote(cluster), type = quote(type), obs = quote(obs), rho = c(0.7, 0.3)),
          vd[, c("cluster", "type", "obs", "vi")])
add_vcalc("constructed/type+obs+time", "constructs, outcomes and time points (phi 0.8)",
          list(vi = quote(vi), cluster = quote(cluster), type = quote(type), obs = quote(obs), time1 = quote(time1),
               rho = c(0.7, 0.3), phi = 0.8),
          vd)
mt <- data.frame(study = c(1, 1, 1, 2, 2, 3), grp1 = c("a", "b", "c", "a", "b", "a"), grp2 = "ctl",
                 n1 = c(30, 28, 31, 40, 44, 25), n2 = c(29, 29, 29, 41, 41, 27),
                 vi = c(0.07, 0.075, 0.068, 0.05, 0.049, 0.081))
add_vcalc("constructed/multitreatment", "several treatment groups against one control group (grp1, grp2, w1, w2)",
          list(vi = quote(vi), cluster = quote(study), grp1 = quote(grp1), grp2 = quote(grp2),
               w1 = quote(n1), w2 = quote(n2)),
          mt)

# ---------------------------------------------------------------- rma(): fit statistics, blup, anova
extras <- list()
bcg_X <- cbind(ablat = bcg$ablat)
add_extra <- function(id, res, mods, extra = list()) {
  rec <- c(list(id = id, method = res$method, test = res$test, yi = vec(res$yi), vi = vec(res$vi),
                X = if (is.null(mods)) NULL else mat(mods), mod_names = if (is.null(mods)) NULL else chr(colnames(mods)),
                tau2_fixed = if (isTRUE(res$tau2.fix)) num(res$tau2) else NULL,
                weights = if (is.null(res$weights)) NULL else vec(res$weights),
                b = vec(res$beta), tau2 = num(res$tau2), fit_stats = fit_stats(res)), extra)
  if (is.null(res$weights)) {
    bl <- blup(res)
    rec$blup <- list(pred = vec(bl$pred), se = vec(bl$se), pi_lb = vec(bl$pi.lb), pi_ub = vec(bl$pi.ub))
  }
  extras[[length(extras) + 1]] <<- rec
  invisible(res)
}
for (m in c("EE", "DL", "HE", "PM", "ML", "REML")) {
  r0 <- add_extra(paste0("bcg/", m, "/int"), rma_t(yi, vi, data = bcg, method = m), NULL)
  r1 <- rma_t(yi, vi, mods = bcg_X, data = bcg, method = m)
  ex <- list(wald = list(record_wald(r1, btt = 2), record_wald(r1, L = rbind(c(1, 20), c(1, 40)))))
  if (m %in% c("ML", "EE")) ex$lrt <- list(record_lrt(r1, r0, paste0("bcg/", m, "/int")))
  add_extra(paste0("bcg/", m, "/ablat"), r1, bcg_X, ex)
}
add_extra("bcg/REML/knha/ablat", rma_t(yi, vi, mods = bcg_X, data = bcg, test = "knha"), bcg_X,
          list(wald = list(record_wald(rma_t(yi, vi, mods = bcg_X, data = bcg, test = "knha"), L = c(1, 30)))))
r_fix <- add_extra("bcg/REML/tau2_0.1", rma_t(yi, vi, data = bcg, tau2 = 0.1), NULL)
r_reml <- rma_t(yi, vi, data = bcg)
add_extra("bcg/REML/int/lrt_tau2", r_reml, NULL, list(lrt = list(record_lrt(r_reml, r_fix, "bcg/REML/tau2_0.1"))))
add_extra("bcg/REML/weights", rma_t(yi, vi, data = bcg, weights = 1 / (vi + 0.1)), NULL)

write_json_file(list(meta = META, cases = mv_cases), "rma_mv.json")
write_json_file(list(meta = META, cases = robust_cases), "robust.json")
write_json_file(list(meta = META, cases = vcalc_cases), "vcalc.json")
write_json_file(list(meta = META, cases = extras), "rma_extras.json")
