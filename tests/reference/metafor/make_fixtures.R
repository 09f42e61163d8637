# Reference numbers for strigil.meta, computed by R's metafor.
#
# Run from the repository root:  Rscript tests/reference/metafor/make_fixtures.R
# Writes datasets.json, escalc.json, rma.json, subgroups.json and diagnostics.json next to this
# script (layout: README.md in this folder). Numbers are written with 17 significant digits.
# Needs only metafor (with its metadat data) and jsonlite, as packaged by Debian.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_dir <- "tests/reference/metafor"
if (!dir.exists(out_dir)) stop("run from the repository root")

# Tight convergence so that differences come from the algorithm, not from a loose stopping rule.
# stepadj = 0.5 damps Fisher scoring, which otherwise oscillates on some hard sets; tol drives
# uniroot() for PM and the Q-profile interval.
CTRL <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5, tol = 1e-12)
CI_CTRL <- list(tol = 1e-12, maxiter = 10000)
METHODS <- c("EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
TESTS <- c("z", "t", "knha")

# JSON writing (17 digits), capture() of errors and warnings, meta_block(): json_helpers.R
source(file.path(out_dir, "json_helpers.R"))
META <- meta_block(list(control = CTRL, confint_control = CI_CTRL))

# ---------------------------------------------------------------- data sets
datasets <- list()
add_dataset <- function(name, yi, vi, slab = NULL, mods = list(), groups = list(), note = "") {
  stopifnot(length(yi) == length(vi))
  if (is.null(slab)) slab <- paste("Study", seq_along(yi))
  datasets[[name]] <<- list(yi = as.numeric(yi), vi = as.numeric(vi), slab = as.character(slab),
                            mods = mods, groups = groups, note = note)
}
ds_json <- function(d) {
  list(yi = vec(d$yi), vi = vec(d$vi), slab = I(d$slab),
       mods = if (length(d$mods)) lapply(d$mods, vec) else structure(list(), names = character(0)),
       groups = if (length(d$groups)) lapply(d$groups, function(g) I(as.character(g)))
                else structure(list(), names = character(0)),
       note = d$note)
}

escalc_cases <- list()
add_escalc <- function(id, measure, dataset, inputs, options = list()) {
  args <- c(list(measure = measure), inputs, options)
  es <- do.call(escalc, args)
  escalc_cases[[length(escalc_cases) + 1]] <<- list(
    id = id, measure = measure, dataset = dataset,
    inputs = lapply(inputs, vec), options = options,
    yi = vec(es$yi), vi = vec(es$vi))
  invisible(es)
}

# BCG vaccine trials (Colditz et al., 1994): 2x2 tables, latitude and year, allocation.
bcg <- dat.bcg
tab <- list(ai = bcg$tpos, bi = bcg$tneg, ci = bcg$cpos, di = bcg$cneg)
es <- add_escalc("bcg_RR", "RR", "bcg_rr", tab)
alloc_mm <- model.matrix(~ alloc, data = bcg)[, -1, drop = FALSE]
add_dataset("bcg_rr", es$yi, es$vi, slab = paste(bcg$author, bcg$year),
            mods = list(ablat = bcg$ablat, year = bcg$year,
                        allocrandom = alloc_mm[, "allocrandom"],
                        allocsystematic = alloc_mm[, "allocsystematic"]),
            groups = list(alloc = bcg$alloc), note = "dat.bcg, log risk ratio")
es <- add_escalc("bcg_OR", "OR", "bcg_or", tab)
add_dataset("bcg_or", es$yi, es$vi, slab = paste(bcg$author, bcg$year), note = "dat.bcg, log odds ratio")
add_escalc("bcg_RD", "RD", "bcg_rd", tab)

# Stroke units (Normand, 1999): two-group means.
nd <- dat.normand1999
two <- list(m1i = nd$m1i, sd1i = nd$sd1i, n1i = nd$n1i, m2i = nd$m2i, sd2i = nd$sd2i, n2i = nd$n2i)
es <- add_escalc("normand_MD", "MD", "normand_md", two)
add_dataset("normand_md", es$yi, es$vi, slab = nd$source, note = "dat.normand1999, mean difference")
es <- add_escalc("normand_SMD", "SMD", "normand_smd", two)
add_dataset("normand_smd", es$yi, es$vi, slab = nd$source, note = "dat.normand1999, Hedges' g")
add_escalc("normand_SMDH", "SMDH", "normand_smdh", two)
add_escalc("normand_ROM", "ROM", "normand_rom", two)

# Conscientiousness and medication adherence (Molloy et al., 2014): correlations.
ml <- dat.molloy2014
cr <- list(ri = ml$ri, ni = ml$ni)
es <- add_escalc("molloy_ZCOR", "ZCOR", "molloy_zcor", cr)
add_dataset("molloy_zcor", es$yi, es$vi, slab = paste(ml$authors, ml$year),
            mods = list(meanage = ml$meanage, quality = ml$quality),
            groups = list(design = ml$design), note = "dat.molloy2014, Fisher z")
add_escalc("molloy_COR", "COR", "molloy_cor", cr)

# Passive smoking and lung cancer (Hackshaw et al., 1998): log odds ratios as published.
hk <- dat.hackshaw1998
add_dataset("hackshaw_or", hk$yi, hk$vi, slab = paste(hk$author, hk$year),
            groups = list(design = hk$design), note = "dat.hackshaw1998, log odds ratio")

# Magnesium after myocardial infarction (Egger et al., 2001): the classic funnel asymmetry.
eg <- dat.egger2001
eg_in <- list(ai = eg$ai, n1i = eg$n1i, ci = eg$ci, n2i = eg$n2i)
es <- add_escalc("egger2001_OR", "OR", "egger2001_or", eg_in)
add_dataset("egger2001_or", es$yi, es$vi, slab = paste(eg$study, eg$year),
            note = "dat.egger2001, log odds ratio (1/2 added to zero cells, metafor default)")
add_escalc("egger2001_RR", "RR", "egger2001_rr", eg_in)
add_escalc("egger2001_RD", "RD", "egger2001_rd", eg_in)

# Elevated CO2 and plant growth (Curtis et al., 1998): ratio of means.
cu <- dat.curtis1998
es <- add_escalc("curtis_ROM", "ROM", "curtis_rom",
                 list(m1i = cu$m1i, sd1i = cu$sd1i, n1i = cu$n1i, m2i = cu$m2i, sd2i = cu$sd2i, n2i = cu$n2i))
add_dataset("curtis_rom", es$yi, es$vi, note = "dat.curtis1998, log ratio of means")

# Pre-post designs: metadat bundles none with means and a correlation, so a seeded random one.
set.seed(20261121)
kpp <- 12
ni <- sample(12:60, kpp, replace = TRUE)
m2i <- round(rnorm(kpp, 50, 8), 2)            # pre
m1i <- round(m2i - rnorm(kpp, 6, 4), 2)       # post
sd2i <- round(runif(kpp, 6, 14), 2)
sd1i <- round(sd2i * runif(kpp, 0.8, 1.25), 2)
ri <- round(runif(kpp, 0.3, 0.85), 2)
pp <- list(m1i = m1i, m2i = m2i, sd1i = sd1i, sd2i = sd2i, ni = ni, ri = ri)
es <- add_escalc("prepost_SMCC", "SMCC", "prepost_smcc", pp)
add_dataset("prepost_smcc", es$yi, es$vi, note = "seeded random pre-post data, SMCC")
add_escalc("prepost_SMCR", "SMCR", "prepost_smcr", pp[c("m1i", "m2i", "sd1i", "ni", "ri")])
add_escalc("prepost_MC", "MC", "prepost_mc", pp)

# Seeded random data sets: yi ~ N(mu, vi + tau2).
rand_set <- function(name, k, mu, tau2, vlo, vhi, mod = FALSE, group = FALSE) {
  vi <- runif(k, vlo, vhi)
  x <- round(rnorm(k, 0, 1), 3)
  g <- sample(c("a", "b", "c"), k, replace = TRUE)
  yi <- rnorm(k, mu + (if (mod) 0.2 * x else 0), sqrt(vi + tau2))
  add_dataset(name, round(yi, 6), round(vi, 6), mods = if (mod) list(x = x) else list(),
              groups = if (group) list(g = g) else list(),
              note = sprintf("seeded random: k=%d, mu=%g, tau2=%g, vi~U(%g,%g)", k, mu, tau2, vlo, vhi))
}
set.seed(3)
rand_set("rand_k5", 5, 0.4, 0.05, 0.01, 0.2)
rand_set("rand_k10", 10, 0.2, 0.1, 0.02, 0.3)
rand_set("rand_k20", 20, 0.3, 0.08, 0.01, 0.25, mod = TRUE, group = TRUE)
rand_set("rand_k40", 40, -0.1, 0.02, 0.005, 0.1, group = TRUE)

# Deliberately hard sets.
add_dataset("hard_k2", c(0.1, 0.9), c(0.04, 0.09), note = "k = 2")
add_dataset("hard_k3", c(-0.2, 0.5, 1.4), c(0.05, 0.02, 0.1), note = "k = 3")
add_dataset("hard_hugehet", c(-6.1, 2.3, 9.8, -1.4, 4.4, 12.5, -8.2, 0.7, 5.9, -3.3),
            c(0.01, 0.02, 0.015, 0.03, 0.01, 0.02, 0.025, 0.01, 0.02, 0.015),
            note = "huge heterogeneity: tau2 about 40 with vi about 0.02")
add_dataset("hard_homog", c(0.30, 0.31, 0.29, 0.305, 0.295, 0.30, 0.302, 0.298),
            c(0.04, 0.05, 0.03, 0.06, 0.04, 0.05, 0.03, 0.04),
            note = "homogeneous: Q far below its df, tau2 at zero")
add_dataset("hard_identical", rep(0.5, 5), c(0.01, 0.02, 0.03, 0.04, 0.05),
            note = "identical effects: Q = 0")
add_dataset("hard_extremevar", c(0.2, -0.4, 0.9, 0.1, 1.5, -2.0, 3.0, 0.5, -0.7),
            10^seq(-4, 4, length.out = 9), note = "extreme variance ratios: vi from 1e-4 to 1e4")
add_dataset("hard_outlier", c(0.21, 0.35, 0.12, 0.28, 0.40, 0.18, 0.25, 0.31, 0.15, 0.22, 0.30, 8.0),
            c(0.02, 0.03, 0.025, 0.02, 0.04, 0.03, 0.02, 0.035, 0.03, 0.02, 0.025, 0.03),
            note = "one huge outlier (last study)")
add_dataset("perm_k6_mod", c(0.12, 0.45, 0.31, 0.78, 0.52, 0.95), c(0.03, 0.05, 0.04, 0.06, 0.02, 0.05),
            mods = list(x = c(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)),
            note = "k = 6 with a moderator: exact permutation test (6! = 720 permutations)")

# ---------------------------------------------------------------- model fits
fit_model <- function(d, method, test, mods = NULL, weights = NULL) {
  args <- list(yi = d$yi, vi = d$vi, method = method, test = test, control = CTRL)
  if (!is.null(weights)) args$weights <- weights
  if (!is.null(mods)) args$mods <- do.call(cbind, d$mods[mods])
  if (!is.null(mods)) colnames(args$mods) <- mods
  capture(do.call(rma.uni, args))
}

fit_record <- function(res, intercept_only) {
  rec <- list(
    b = vec(res$beta), se = vec(res$se), zval = vec(res$zval), pval = vec(res$pval),
    ci_lb = vec(res$ci.lb), ci_ub = vec(res$ci.ub), coef_names = I(rownames(res$beta)),
    tau2 = num(res$tau2), se_tau2 = num(res$se.tau2), k = res$k, p = res$p,
    dfs = if (res$test == "z") NULL else num(res$ddf),
    I2 = num(res$I2), H2 = num(res$H2), QE = num(res$QE), QEp = num(res$QEp), QE_df = res$k - res$p,
    vb = vec(t(res$vb)), weights = vec(weights(res)), s2w = num(res$s2w),
    QM = num(res$QM), QMdf = vec(res$QMdf), QMp = num(res$QMp), R2 = num(res$R2),
    pi_lb = NULL, pi_ub = NULL, tau2_ci = NULL, tau2_ci_ok = NULL)
  if (intercept_only) {
    pr <- predict(res)
    rec$pi_lb <- num(pr$pi.lb)
    rec$pi_ub <- num(pr$pi.ub)
    if (!is.element(res$method, c("EE", "FE"))) {
      ci <- capture(confint(res, control = CI_CTRL))
      if (ci$failed) {
        rec$tau2_ci_ok <- FALSE
        rec$tau2_ci_error <- ci$value$msg
      } else {
        rec$tau2_ci <- vec(ci$value$random["tau^2", c("ci.lb", "ci.ub")])
        rec$tau2_ci_ok <- TRUE
        rec$tau2_ci_warnings <- ci$warnings
        # confint() searches tau2 only up to max(100, 10 * tau2) and silently reports that bound
        # when the true limit lies beyond it; record the search bound and the untruncated interval
        rec$tau2_ci_search_max <- num(max(100, res$tau2 * 10))
        wide <- capture(confint(res, control = c(CI_CTRL, list(tau2.max = max(1e6, 1e4 * res$tau2)))))
        if (!wide$failed) rec$tau2_ci_wide <- vec(wide$value$random["tau^2", c("ci.lb", "ci.ub")])
      }
    }
  }
  rec
}

rma_cases <- list()
run_rma <- function(dname, mods = NULL) {
  d <- datasets[[dname]]
  for (method in METHODS) for (test in TESTS) {
    f <- fit_model(d, method, test, mods)
    id <- paste(dname, method, test, if (is.null(mods)) "int" else paste(mods, collapse = "+"), sep = "/")
    case <- list(id = id, dataset = dname, method = method, test = test,
                 mods = if (is.null(mods)) NULL else I(mods), intercept = TRUE,
                 ok = !f$failed, error = if (f$failed) f$value$msg else NULL, warnings = f$warnings)
    if (!f$failed) {
      case$fit <- fit_record(f$value, is.null(mods))
      # metafor stops iterating silently only via an error; record convergence explicitly.
      case$converged <- TRUE
    } else {
      case$converged <- !grepl("converge", f$value$msg)
    }
    rma_cases[[length(rma_cases) + 1]] <<- case
  }
}
for (dname in c("bcg_rr", "bcg_or", "normand_md", "normand_smd", "molloy_zcor", "hackshaw_or",
                "egger2001_or", "curtis_rom", "prepost_smcc", "rand_k5", "rand_k10", "rand_k20",
                "rand_k40", "hard_k2", "hard_k3", "hard_hugehet", "hard_homog", "hard_identical",
                "hard_extremevar", "hard_outlier")) run_rma(dname)
run_rma("bcg_rr", "ablat")
run_rma("bcg_rr", c("ablat", "year"))
run_rma("bcg_rr", c("allocrandom", "allocsystematic"))
run_rma("molloy_zcor", "meanage")
run_rma("rand_k20", "x")
run_rma("perm_k6_mod", "x")

# ---------------------------------------------------------------- subgroups
sub_cases <- list()
run_subgroups <- function(dname, gname, methods = METHODS, tests = TESTS) {
  d <- datasets[[dname]]
  g <- as.character(d$groups[[gname]])
  levs <- sort(unique(g))
  for (method in methods) for (test in tests) {
    groups <- list()
    b <- se <- numeric(0)
    for (lev in levs) {
      sel <- g == lev
      f <- capture(rma.uni(d$yi[sel], d$vi[sel], method = method, test = test, control = CTRL))
      if (f$failed) {
        groups[[length(groups) + 1]] <- list(name = lev, k = sum(sel), ok = FALSE, error = f$value$msg)
        b <- c(b, NA); se <- c(se, NA)
      } else {
        r <- f$value
        groups[[length(groups) + 1]] <- list(
          name = lev, k = r$k, ok = TRUE, b = num(r$beta), se = num(r$se), ci_lb = num(r$ci.lb),
          ci_ub = num(r$ci.ub), tau2 = num(r$tau2), I2 = num(r$I2), QE = num(r$QE), warnings = f$warnings)
        b <- c(b, r$beta); se <- c(se, r$se)
      }
    }
    ok <- !is.na(b)
    fe <- capture(rma.uni(b[ok], se[ok]^2, method = "FE"))
    mf <- capture(rma.uni(d$yi, d$vi, mods = ~ factor(g), method = method, test = test, control = CTRL))
    sub_cases[[length(sub_cases) + 1]] <<- list(
      id = paste(dname, gname, method, test, sep = "/"), dataset = dname, group = gname,
      method = method, test = test, groups = groups,
      between_fe = if (fe$failed) NULL else list(Q = num(fe$value$QE), df = fe$value$k - 1,
                                                  p = num(fe$value$QEp)),
      between_mods = if (mf$failed) list(ok = FALSE, error = mf$value$msg)
                     else list(ok = TRUE, QM = num(mf$value$QM), QMdf = vec(mf$value$QMdf),
                               QMp = num(mf$value$QMp), fit = fit_record(mf$value, FALSE)))
  }
}
run_subgroups("bcg_rr", "alloc")
run_subgroups("molloy_zcor", "design")
run_subgroups("hackshaw_or", "design")
run_subgroups("rand_k20", "g")
run_subgroups("rand_k40", "g")

# ---------------------------------------------------------------- diagnostics
reg_record <- function(rt) {
  list(model = rt$model, predictor = rt$predictor, zval = num(rt$zval), pval = num(rt$pval),
       dfs = num(rt$dfs), est = num(rt$est), ci_lb = num(rt$ci.lb), ci_ub = num(rt$ci.ub),
       fit = if (rt$model == "rma") list(b = vec(rt$fit$beta), se = vec(rt$fit$se), tau2 = num(rt$fit$tau2))
             else list(b = vec(coef(rt$fit)), se = vec(coef(summary(rt$fit))[, 2])))
}
guard <- function(expr, rec) {
  f <- capture(expr)
  if (f$failed) return(list(ok = FALSE, error = f$value$msg))
  out <- rec(f$value)
  out$ok <- TRUE
  out$warnings <- f$warnings
  out
}
l1o_record <- function(l) {
  list(estimate = vec(l$estimate), se = vec(l$se), zval = vec(if (is.null(l$zval)) l$tval else l$zval),
       pval = vec(l$pval), ci_lb = vec(l$ci.lb), ci_ub = vec(l$ci.ub), Q = vec(l$Q), Qp = vec(l$Qp),
       tau2 = vec(l$tau2), I2 = vec(l$I2), H2 = vec(l$H2))
}
# permutest() reports its progress on the console; keep the log readable.
quiet_permutest <- function(res, iter, seed) {
  out <- NULL
  utils::capture.output(out <- suppressMessages(permutest(res, iter = iter, seed = seed)))
  out
}
diag_cases <- list()
run_diagnostics <- function(dname, method = "REML", test = "z", mods = NULL, perm_iter = 1000,
                            order_by = NULL, weights = NULL) {
  d <- datasets[[dname]]
  f <- fit_model(d, method, test, mods, weights)
  if (f$failed) stop("diagnostic base fit failed: ", dname)
  res <- f$value
  case <- list(id = paste(dname, method, test, if (is.null(mods)) "int" else paste(mods, collapse = "+"),
                          sep = "/"),
               dataset = dname, method = method, test = test, mods = if (is.null(mods)) NULL else I(mods))
  if (!is.null(weights)) {
    case$id <- paste0(case$id, "/weighted")
    case$weights <- vec(weights)
  }
  int_only <- is.null(mods)
  if (int_only) {
    case$regtest <- guard(regtest(res), reg_record)
    case$regtest_lm <- guard(regtest(res, model = "lm"), reg_record)
    case$ranktest <- guard(ranktest(res), function(r) list(tau = num(r$tau), pval = num(r$pval)))
    tf <- list()
    for (est in c("L0", "R0")) for (side in list(NULL, "left", "right")) {
      rec <- guard(if (is.null(side)) trimfill(res, estimator = est, control = CTRL)
                   else trimfill(res, side = side, estimator = est, control = CTRL),
                   function(t) list(k0 = t$k0, se_k0 = num(t$se.k0), p_k0 = num(t$p.k0), side = t$side,
                                    b = num(t$beta), se = num(t$se), ci_lb = num(t$ci.lb), ci_ub = num(t$ci.ub),
                                    zval = num(t$zval), pval = num(t$pval), tau2 = num(t$tau2),
                                    fill_yi = vec(t$yi[t$fill]), fill_vi = vec(t$vi[t$fill])))
      rec$estimator <- est
      rec["side_requested"] <- list(side)  # keeps an explicit null for "estimated from the data"
      tf[[length(tf) + 1]] <- rec
    }
    case$trimfill <- tf
    case$leave1out <- guard(leave1out(res), l1o_record)
    case$cumul <- guard(cumul(res), l1o_record)
    if (!is.null(order_by)) {
      # cumulative in the order of a study variable (e.g. publication year); rows come out sorted
      case$cumul_order_by <- order_by
      case$cumul_ordered <- guard(do.call(cumul, list(res, order = d$mods[[order_by]])), l1o_record)
    }
  }
  {
    case$influence <- guard(influence(res), function(x) list(
      rstudent = vec(x$inf$rstudent), dffits = vec(x$inf$dffits), cook_d = vec(x$inf$cook.d),
      cov_r = vec(x$inf$cov.r), tau2_del = vec(x$inf$tau2.del), QE_del = vec(x$inf$QE.del),
      hat = vec(x$inf$hat), weight = vec(x$inf$weight),
      dfbs = lapply(unclass(x$dfbs)[setdiff(names(x$dfbs), c("slab", "digits"))], vec),
      inf = I(x$is.infl)))
    pdf(NULL)
    case$baujat <- guard(baujat(res), function(b) list(x = vec(b$x), y = vec(b$y)))
    dev.off()
  }
  seed <- 1234L
  case$permutest <- guard(quiet_permutest(res, perm_iter, seed),
                          function(p) {
                            # metafor enumerates all sign flips / orderings when there are at most iter of them.
                            exact <- p[["exact.iter"]] <= perm_iter
                            list(exact = exact, exact_iter = num(p[["exact.iter"]]),
                                 iter = if (exact) NULL else perm_iter, seed = if (exact) NULL else seed,
                                 pval = vec(p$pval), QMp = num(p$QMp))
                          })
  diag_cases[[length(diag_cases) + 1]] <<- case
}
run_diagnostics("bcg_rr", order_by = "year")
run_diagnostics("bcg_rr", method = "DL")
run_diagnostics("bcg_rr", method = "EE")
run_diagnostics("bcg_rr", test = "knha")
run_diagnostics("hackshaw_or")
run_diagnostics("egger2001_or")
run_diagnostics("egger2001_or", method = "DL")
run_diagnostics("normand_smd")           # k = 9: exact sign-flip permutation test
run_diagnostics("rand_k5", method = "DL")
run_diagnostics("rand_k20")
run_diagnostics("hard_outlier")
run_diagnostics("rand_k10", method = "ML", test = "t")
run_diagnostics("hard_k2", test = "knha")        # deletions leave one study: metafor switches to z
run_diagnostics("hard_k3", method = "DL")
run_diagnostics("hard_hugehet", method = "PM", test = "t")
run_diagnostics("hard_extremevar", method = "SJ")
run_diagnostics("hard_homog", method = "HE")
run_diagnostics("bcg_rr", mods = "ablat")
run_diagnostics("normand_smd", method = "DL", weights = c(3, 1, 2, 1, 1, 4, 2, 1, 1))
run_diagnostics("molloy_zcor", mods = "meanage", test = "knha")
run_diagnostics("perm_k6_mod", mods = "x")  # exact permutation test over 720 orderings

# ---------------------------------------------------------------- write
write_json_file(list(meta = META, datasets = lapply(datasets, ds_json)), "datasets.json")
write_json_file(list(meta = META, cases = escalc_cases), "escalc.json")
write_json_file(list(meta = META, methods = I(METHODS), tests = I(TESTS), cases = rma_cases), "rma.json")
write_json_file(list(meta = META, cases = sub_cases), "subgroups.json")
write_json_file(list(meta = META, cases = diag_cases), "diagnostics.json")
