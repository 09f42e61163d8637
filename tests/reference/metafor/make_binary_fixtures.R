# Reference numbers for strigil.meta's sparse binary and count outcomes and everyday tools, computed
# by R's metafor (Debian r-cran-metafor) with lme4 and glmmTMB for the generalized linear mixed models
# (Debian r-cran-lme4, r-cran-glmmtmb).
#
# Run from the repository root:  Rscript tests/reference/metafor/make_binary_fixtures.R
# Writes binary.json (2x2 and count tables, escalc measures, rma.mh, rma.peto), glmm.json (rma.glmm)
# and everyday.json (more tau^2 estimators, formula moderators, missing values, residuals, GOSH,
# radial, L'Abbe, regplot) next to this script. Layout: README.md in this folder.

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
})

out_dir <- "tests/reference/metafor"
if (!dir.exists(out_dir)) stop("run from the repository root")
source(file.path(out_dir, "json_helpers.R"))

CTRL <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5, tol = 1e-12)
# lme4 stops bobyqa at rhoend = 2e-7 and its inner (PIRLS) iterations at a relative change of 1e-7 in the
# penalised deviance, which leaves its likelihood off by up to 1e-3; tighter, so that differences come from
# the method, not the stopping rules
GLMM_CTRL <- list(glmerCtrl = list(optimizer = "bobyqa", tolPwrss = 1e-10,
                                   optCtrl = list(rhoend = 1e-10, maxfun = 1e6)))

# ---------------------------------------------------------------- the tables
tables <- list()
add_table <- function(name, cols, slab, note) {
  tables[[name]] <<- list(columns = lapply(cols, vec), slab = I(as.character(slab)), note = note)
  invisible(cols)
}
bcg <- dat.bcg
add_table("bcg", list(ai = bcg$tpos, bi = bcg$tneg, ci = bcg$cpos, di = bcg$cneg, ablat = bcg$ablat,
                      year = bcg$year),
          paste(bcg$author, bcg$year), "dat.bcg: TB cases in vaccinated (ai/bi) and control (ci/di) arms")
tables$bcg$alloc <- I(as.character(bcg$alloc))
for (tb in c("6", "9")) {
  y <- dat.yusuf1985[dat.yusuf1985$table == tb, ]
  add_table(paste0("yusuf", tb), list(ai = y$ai, n1i = y$n1i, ci = y$ci, n2i = y$n2i), y$trial,
            paste0("dat.yusuf1985, table ", tb, " (beta blockers; several trials without events in either arm)"))
}
ca <- dat.collins1985a
add_table("collins_a", list(ai = ca$b.xti, n1i = ca$nti, ci = ca$b.xci, n2i = ca$nci), ca$trial,
          "dat.collins1985a, persistent or recurrent bleeding (three trials with a missing count)")
cb <- dat.collins1985b
add_table("collins_b_pre", list(ai = cb$pre.xti, n1i = cb$pre.nti, ci = cb$pre.xci, n2i = cb$pre.nci),
          cb$author, "dat.collins1985b, pre-eclampsia")
add_table("collins_b_ped", list(ai = cb$ped.xti, n1i = cb$fup.nti, ci = cb$ped.xci, n2i = cb$fup.nci),
          cb$author, "dat.collins1985b, perinatal death (two trials without deaths in either arm)")
nw7 <- dat.nielweise2007
add_table("nielweise2007", list(ai = nw7$ai, n1i = nw7$n1i, ci = nw7$ci, n2i = nw7$n2i), nw7$author,
          "dat.nielweise2007, catheter-related bloodstream infections (one trial without events)")
nw8 <- dat.nielweise2008
add_table("nielweise2008", list(x1i = nw8$x1i, t1i = nw8$t1i, x2i = nw8$x2i, t2i = nw8$t2i), nw8$authors,
          "dat.nielweise2008, infections per catheter-days")
set.seed(20261122)
kz <- 10
rz <- list(x1i = c(0, 3, 0, 5, 1, 0, 2, 7, 0, 4), t1i = round(runif(kz, 200, 3000)),
           x2i = c(2, 0, 0, 9, 3, 4, 0, 8, 0, 6), t2i = round(runif(kz, 200, 3000)))
add_table("rates_zero", rz, paste("Trial", seq_len(kz)), "seeded: person-time data with zero counts")
pz <- dat.pritz1997
add_table("pritz1997", list(xi = pz$xi, ni = pz$ni), pz$authors, "dat.pritz1997, proportions (some 100%)")
nd <- dat.normand1999
add_table("normand1999", list(m1i = nd$m1i, sd1i = nd$sd1i, n1i = nd$n1i, m2i = nd$m2i, sd2i = nd$sd2i,
                              n2i = nd$n2i), nd$source, "dat.normand1999, length of stay")
set.seed(20261123)
kp <- 12
pre <- round(rnorm(kp, 50, 8), 2)
pp <- list(m1i = round(pre + rnorm(kp, 6, 4), 2), m2i = pre, sd1i = round(runif(kp, 6, 14), 2),
           sd2i = round(runif(kp, 6, 14), 2), ri = round(runif(kp, 0.3, 0.85), 2),
           ni = sample(12:60, kp, replace = TRUE))
add_table("prepost", pp, paste("Study", seq_len(kp)), "seeded: post (m1i) and pre (m2i) means of one group")

# ---------------------------------------------------------------- escalc
escalc_cases <- list()
add_escalc <- function(id, measure, table, inputs, options = list()) {
  es <- do.call(escalc, c(list(measure = measure), inputs, options))
  escalc_cases[[length(escalc_cases) + 1]] <<- list(
    id = id, measure = measure, table = table, inputs = lapply(inputs, vec), options = options,
    yi = vec(es$yi), vi = vec(es$vi))
}
tab <- function(name) lapply(tables[[name]]$columns, function(j) as.numeric(fromJSON(unclass(j))))
T <- lapply(setNames(names(tables), names(tables)), tab)
for (m in c("PLO", "PR", "PAS", "PFT")) add_escalc(paste0("pritz_", m), m, "pritz1997", T$pritz1997)
add_escalc("pritz_PR_UB", "PR", "pritz1997", T$pritz1997, list(vtype = "UB"))
n8 <- T$nielweise2008
add_escalc("nielweise2008_IR", "IR", "nielweise2008", list(xi = n8$x1i, ti = n8$t1i))
add_escalc("nielweise2008_IRLN", "IRLN", "nielweise2008", list(xi = n8$x1i, ti = n8$t1i))
for (m in c("IRR", "IRD")) {
  add_escalc(paste0("nielweise2008_", m), m, "nielweise2008", n8)
  add_escalc(paste0("rates_zero_", m), m, "rates_zero", T$rates_zero)
  add_escalc(paste0("rates_zero_", m, "_drop00"), m, "rates_zero", T$rates_zero, list(drop00 = TRUE))
}
add_escalc("rates_zero_IRLN", "IRLN", "rates_zero", list(xi = T$rates_zero$x1i, ti = T$rates_zero$t1i))
for (m in c("PETO", "OR", "RR", "RD")) {
  add_escalc(paste0("yusuf9_", m, "_drop00"), m, "yusuf9", T$yusuf9, list(drop00 = TRUE))
}
add_escalc("bcg_PETO", "PETO", "bcg", T$bcg[c("ai", "bi", "ci", "di")])
add_escalc("yusuf6_PETO", "PETO", "yusuf6", T$yusuf6)
add_escalc("yusuf6_OR_all", "OR", "yusuf6", T$yusuf6, list(add = 1/2, to = "all"))
add_escalc("yusuf6_RR_none", "RR", "yusuf6", T$yusuf6, list(to = "none"))
add_escalc("normand_MN", "MN", "normand1999",
           list(mi = T$normand1999$m1i, sdi = T$normand1999$sd1i, ni = T$normand1999$n1i))
add_escalc("prepost_ROMC", "ROMC", "prepost", T$prepost)
add_escalc("prepost_SMCRH", "SMCRH", "prepost", T$prepost)  # the metafor < 4.6 variance (see escalc_current.json)

# ---------------------------------------------------------------- Mantel-Haenszel and Peto
rstd <- function(r) {
  s <- rstandard(r)
  list(resid = vec(s$resid), se = vec(s$se), z = vec(s$z))
}
mh_cases <- list()
peto_cases <- list()
fixed_record <- function(r) list(
  b = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval), ci_lb = num(r$ci.lb),
  ci_ub = num(r$ci.ub), QE = num(r$QE), QEp = num(r$QEp), I2 = num(r$I2), H2 = num(r$H2),
  k = r$k, k_yi = r$k.yi, k_pos = num(r$k.pos), yi = vec(r$yi), vi = vec(r$vi), weights = vec(weights(r)),
  not_na_yivi = I(r$not.na.yivi), rstandard = rstd(r))
two_by_two <- c("bcg", "yusuf6", "yusuf9", "collins_a", "collins_b_pre", "collins_b_ped", "nielweise2007")
cells <- function(d) if (is.null(d$bi)) d[c("ai", "n1i", "ci", "n2i")] else d[c("ai", "bi", "ci", "di")]
for (name in two_by_two) {
  d <- cells(T[[name]])
  for (measure in c("OR", "RR", "RD")) for (correct in c(TRUE, FALSE)) {
    if (measure != "OR" && !correct) next  # the continuity correction only enters the CMH test
    f <- capture(do.call(rma.mh, c(list(measure = measure, correct = correct), d)))
    case <- list(id = paste(name, measure, if (correct) "cc" else "nocc", sep = "/"), table = name,
                 measure = measure, correct = correct, ok = !f$failed, warnings = f$warnings)
    if (f$failed) case$error <- f$value$msg else {
      r <- f$value
      case$fit <- c(fixed_record(r), list(CO = num(r$CO), COp = num(r$COp), MH = num(r$MH), MHp = num(r$MHp),
                                          BD = num(r$BD), BDp = num(r$BDp), TA = num(r$TA), TAp = num(r$TAp)))
    }
    mh_cases[[length(mh_cases) + 1]] <- case
  }
  f <- capture(do.call(rma.peto, d))
  case <- list(id = paste(name, "PETO", sep = "/"), table = name, ok = !f$failed, warnings = f$warnings)
  if (f$failed) case$error <- f$value$msg else case$fit <- fixed_record(f$value)
  peto_cases[[length(peto_cases) + 1]] <- case
}
for (name in c("nielweise2008", "rates_zero")) for (measure in c("IRR", "IRD")) for (correct in c(TRUE, FALSE)) {
  if (measure == "IRD" && !correct) next
  f <- capture(do.call(rma.mh, c(list(measure = measure, correct = correct), T[[name]])))
  r <- f$value
  mh_cases[[length(mh_cases) + 1]] <- list(
    id = paste(name, measure, if (correct) "cc" else "nocc", sep = "/"), table = name, measure = measure,
    correct = correct, ok = !f$failed, warnings = f$warnings,
    fit = c(fixed_record(r), list(MH = num(r$MH), MHp = num(r$MHp))))
}

write_json_file(list(meta = meta_block(), tables = tables, escalc = escalc_cases, mh = mh_cases,
                     peto = peto_cases), "binary.json")

# ---------------------------------------------------------------- GLMMs (rma.glmm with lme4 and glmmTMB)
# metafor fits the models with lme4 by default; lme4 differences its Laplace objective numerically for the
# standard errors, and evaluates that objective with the weights of the next-to-last PIRLS step, which
# moves it by up to 1e-5 near the optimum: its standard errors are good to about 1e-2 only. glmmTMB
# (control = list(package = "glmmTMB")) maximises the same Laplace approximation with exact derivatives.
lme4_fit <- function(m) {
  if (is.null(m) || !inherits(m, "merMod")) return(NULL)
  list(theta = vec(getME(m, "theta")), beta = vec(fixef(m)), beta_names = I(names(fixef(m))),
       logLik = num(logLik(m)))
}
glmm_cases <- list()
run_glmm <- function(id, name, measure, mods = NULL) {
  d <- T[[name]]
  for (package in c("lme4", "glmmTMB")) {
    ctrl <- if (package == "lme4") GLMM_CTRL else list(package = "glmmTMB")
    args <- c(list(measure = measure, model = "UM.RS", method = "ML", control = ctrl, retfit = TRUE),
              if (measure == "IRR") d[c("x1i", "t1i", "x2i", "t2i")] else cells(d))
    if (!is.null(mods)) args$mods <- do.call(cbind, d[mods])
    f <- capture(do.call(rma.glmm, args))
    case <- list(id = paste(id, package, sep = "/"), table = name, measure = measure, model = "UM.RS",
                 method = "ML", package = package, mods = if (is.null(mods)) NULL else I(mods),
                 ok = !f$failed, warnings = f$warnings)
    if (f$failed) {
      case$error <- f$value$msg
    } else {
      r <- f$value
      case$fit <- list(
        b = vec(r$beta), se = vec(r$se), zval = vec(r$zval), pval = vec(r$pval), ci_lb = vec(r$ci.lb),
        ci_ub = vec(r$ci.ub), vb = vec(t(r$vb)), tau2 = num(r$tau2), sigma2 = num(r$sigma2),
        QE_Wld = num(r$QE.Wld), QEp_Wld = num(r$QEp.Wld), QE_LRT = num(r$QE.LRT), QEp_LRT = num(r$QEp.LRT),
        QE_df = num(r$QE.df), QM = num(r$QM), QMp = num(r$QMp), I2 = num(r$I2), H2 = num(r$H2),
        k = r$k, k_yi = r$k.yi, ll = num(r$fit.stats["ll", "ML"]))
      # lme4's own parameters (on metafor's internally rescaled moderators when there are any)
      if (package == "lme4" && is.null(mods)) {
        case$fit$lme4 <- list(FE = lme4_fit(r$res.FE), QE = lme4_fit(r$res.QE), ML = lme4_fit(r$res.ML))
        # did lme4 use its Hessian for the standard errors, or fall back to an approximation?
        case$fit$hessian_used <- !inherits(tryCatch(vcov(r$res.ML, use.hessian = TRUE),
                                                    warning = function(w) w), "warning")
      }
    }
    glmm_cases[[length(glmm_cases) + 1]] <<- case
  }
}
run_glmm("bcg/OR", "bcg", "OR")
run_glmm("bcg/OR/ablat", "bcg", "OR", mods = "ablat")
run_glmm("nielweise2007/OR", "nielweise2007", "OR")
run_glmm("collins_a/OR", "collins_a", "OR")
run_glmm("yusuf6/OR", "yusuf6", "OR")
run_glmm("nielweise2008/IRR", "nielweise2008", "IRR")
run_glmm("rates_zero/IRR", "rates_zero", "IRR")
write_json_file(list(meta = meta_block(list(lme4 = as.character(packageVersion("lme4")),
                                            glmmTMB = as.character(packageVersion("glmmTMB")),
                                            glmm_control = GLMM_CTRL)),
                     cases = glmm_cases), "glmm.json")

# ---------------------------------------------------------------- everyday analysis (rma.uni)
es_bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
es_nd <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                data = dat.normand1999)
uni_data <- list(
  bcg_rr = list(yi = vec(es_bcg$yi), vi = vec(es_bcg$vi), ablat = vec(bcg$ablat), year = vec(bcg$year),
                alloc = I(as.character(bcg$alloc)), ni = vec(bcg$tpos + bcg$tneg + bcg$cpos + bcg$cneg)),
  normand_smd = list(yi = vec(es_nd$yi), vi = vec(es_nd$vi), ni = vec(nd$n1i + nd$n2i)))
uni_record <- function(r, int_only) {
  rec <- list(b = vec(r$beta), se = vec(r$se), zval = vec(r$zval), pval = vec(r$pval), ci_lb = vec(r$ci.lb),
              ci_ub = vec(r$ci.ub), coef_names = I(rownames(r$beta)), tau2 = num(r$tau2),
              se_tau2 = num(r$se.tau2), k = r$k, QE = num(r$QE), QEp = num(r$QEp), I2 = num(r$I2),
              H2 = num(r$H2), QM = num(r$QM), QMp = num(r$QMp), R2 = num(r$R2), vb = vec(t(r$vb)))
  if (int_only && !is.element(r$method, c("EE", "FE", "GENQ"))) {
    ci <- capture(confint(r, control = list(tol = 1e-12, maxiter = 10000)))
    if (!ci$failed) rec$tau2_ci <- vec(ci$value$random["tau^2", c("ci.lb", "ci.ub")])
  }
  rec
}
tau2_cases <- list()
for (dname in names(uni_data)) {
  d <- lapply(uni_data[[dname]], function(x) if (inherits(x, "json")) as.numeric(fromJSON(unclass(x))) else x)
  for (method in c("DLIT", "SJIT", "PMM", "GENQ")) for (mods in list(NULL, "ablat")) {
    if (!is.null(mods) && dname != "bcg_rr") next
    args <- list(yi = d$yi, vi = d$vi, method = method, control = CTRL)
    if (method == "GENQ") args$weights <- d$ni
    if (!is.null(mods)) args$mods <- d[[mods]]
    f <- capture(do.call(rma.uni, args))
    case <- list(id = paste(dname, method, if (is.null(mods)) "int" else mods, sep = "/"), data = dname,
                 method = method, mods = if (is.null(mods)) NULL else I(mods),
                 weights = if (method == "GENQ") "ni" else NULL, ok = !f$failed, warnings = f$warnings)
    if (f$failed) case$error <- f$value$msg else case$fit <- uni_record(f$value, is.null(mods))
    tau2_cases[[length(tau2_cases) + 1]] <- case
  }
}
# moderators given as a formula, with a categorical moderator (treatment coding, first level = reference)
formula_cases <- list()
dbcg <- data.frame(yi = es_bcg$yi, vi = es_bcg$vi, ablat = bcg$ablat, year = bcg$year,
                   alloc = as.character(bcg$alloc))
for (fm in c("~ ablat + alloc", "~ alloc", "~ alloc - 1", "~ ablat * alloc", "~ ablat + year")) {
  for (method in c("REML", "DL")) {
    r <- rma(yi, vi, mods = as.formula(fm), data = dbcg, method = method, control = CTRL)
    formula_cases[[length(formula_cases) + 1]] <- list(formula = fm, method = method, fit = uni_record(r, FALSE))
  }
}
# missing values: metafor leaves out every study with a missing yi, vi or moderator, and counts them
dna <- dbcg
dna$yi[3] <- NA
dna$ablat[5] <- NA
dna$vi[9] <- NA
na_cases <- list()
for (fm in list(NULL, "~ ablat", "~ ablat + alloc")) {
  r <- suppressWarnings(if (is.null(fm)) rma(yi, vi, data = dna, method = "REML", control = CTRL)
                        else rma(yi, vi, mods = as.formula(fm), data = dna, method = "REML", control = CTRL))
  na_cases[[length(na_cases) + 1]] <- list(formula = fm, not_na = I(r$not.na), k = r$k, k_all = r$k.all,
                                           fit = uni_record(r, is.null(fm)))
}
na_data <- list(yi = vec(dna$yi), vi = vec(dna$vi), ablat = vec(dna$ablat), alloc = I(dna$alloc))
# residuals and hat values
resid_cases <- list()
for (spec in list(list("REML", NULL), list("DL", NULL), list("EE", NULL), list("REML", "ablat"),
                  list("REML", "ablat", "knha"))) {
  args <- list(yi = es_bcg$yi, vi = es_bcg$vi, method = spec[[1]], control = CTRL)
  if (!is.null(spec[[2]])) args$mods <- bcg$ablat
  if (length(spec) > 2) args$test <- spec[[3]]
  r <- do.call(rma.uni, args)
  rs <- rstandard(r)
  rt <- rstudent(r)
  resid_cases[[length(resid_cases) + 1]] <- list(
    method = spec[[1]], mods = spec[[2]], test = if (length(spec) > 2) spec[[3]] else "z",
    residuals = vec(residuals(r)), pearson = vec(residuals(r, type = "pearson")),
    rstandard = list(resid = vec(rs$resid), se = vec(rs$se), z = vec(rs$z)),
    rstudent = list(resid = vec(rt$resid), se = vec(rt$se), z = vec(rt$z)), hat = vec(hatvalues(r)))
}
# plots: GOSH (every subset), radial (Galbraith), L'Abbe, regplot (bubble)
pdf(NULL)
gosh_cases <- list()
sub8 <- 1:8
for (method in c("EE", "DL", "REML")) {
  r <- rma(es_bcg$yi[sub8], es_bcg$vi[sub8], method = method, control = CTRL)
  g <- gosh(r, progbar = FALSE)
  gosh_cases[[length(gosh_cases) + 1]] <- list(
    method = method, k = g$k, incl = lapply(seq_len(nrow(g$incl)), function(i) I(which(g$incl[i, ]) - 1L)),
    estimate = vec(g$res$estimate), QE = vec(g$res$QE), I2 = vec(g$res$I2), H2 = vec(g$res$H2),
    tau2 = vec(g$res$tau2))
}
radial_cases <- list()
for (method in c("EE", "REML")) {
  r <- rma(es_bcg$yi, es_bcg$vi, method = method, control = CTRL)
  rd <- radial(r)
  radial_cases[[length(radial_cases) + 1]] <- list(method = method, x = vec(rd$x), y = vec(rd$y))
}
labbe_cases <- list()
for (measure in c("OR", "RR", "RD")) {
  r <- rma(measure = measure, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg, control = CTRL)
  lb <- labbe(r)
  labbe_cases[[length(labbe_cases) + 1]] <- list(measure = measure, x = vec(lb$x), y = vec(lb$y))
}
r <- rma(es_bcg$yi, es_bcg$vi, mods = bcg$ablat, control = CTRL)
grid <- seq(10, 60, by = 5)
pr <- predict(r, newmods = grid)
rp <- regplot(r)
regplot_case <- list(x = vec(grid), pred = vec(pr$pred), ci_lb = vec(pr$ci.lb), ci_ub = vec(pr$ci.ub),
                     pi_lb = vec(pr$pi.lb), pi_ub = vec(pr$pi.ub), psize = vec(rp$psize))
dev.off()
write_json_file(list(meta = meta_block(list(control = CTRL)), data = uni_data, tau2 = tau2_cases,
                     formula = formula_cases, na_data = na_data, missing = na_cases, residuals = resid_cases,
                     gosh = gosh_cases, radial = radial_cases, labbe = labbe_cases, regplot = regplot_case),
                "everyday.json")
