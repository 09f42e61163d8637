# Reference fits by lme4 for Strigil's mixed-model solver (strigil.registry).
# Run from the project root:  Rscript tests/reference/lme4/make_fixtures.R
# Needs the Debian packages r-cran-lme4 and r-cran-jsonlite. Writes one JSON file per case next to this script,
# numbers with 17 significant digits, and anova.json (likelihood-ratio tests between nested fits). The
# registries (*.csv) are written by make_registries.py.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

here <- "tests/reference/lme4"

# Tight optimizer tolerances so that the fixture is lme4's optimum and not where its default stopping rule
# happened to stop; the same optimizer (nloptwrap BOBYQA) as lme4's default for lmer.
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 0, ftol_rel = 0, maxeval = 100000),
                    check.conv.singular = "ignore")

# lme4 names an intercept "(Intercept)" and a treatment contrast "phasechronic"; formulaic writes
# "Intercept" and "phase[T.chronic]". The map is applied here so fixtures carry Strigil's names.
strigil_name <- function(x) {
  x <- sub("^\\(Intercept\\)$", "Intercept", x)
  x <- sub("^phasechronic$", "phase[T.chronic]", x)
  x
}

# jsonlite prints at most 15 significant digits; numbers are written verbatim with 17 instead ("%.17g"
# round-trips every double exactly).
exact <- function(x) {
  if (is.list(x)) return(lapply(x, exact))
  if (is.numeric(x) && !is.integer(x)) {
    s <- sprintf("%.17g", x)
    return(structure(if (length(x) == 1) s else paste0("[", paste(s, collapse = ","), "]"), class = "json"))
  }
  x
}

# Random effects with their conditional variances (ranef(condVar = TRUE)), per grouping factor.
random_effects <- function(fit) {
  re <- ranef(fit, condVar = TRUE)
  out <- list()
  for (g in names(re)) {
    m <- re[[g]]
    pv <- attr(m, "postVar")
    out[[g]] <- list(levels = I(rownames(m)), terms = I(strigil_name(colnames(m))),
                     values = lapply(seq_len(ncol(m)), function(j) m[, j]),
                     condvar = lapply(seq_len(dim(pv)[3]), function(i) as.numeric(pv[, , i])))
  }
  out
}

# Rows of the data to predict for: the first six, and the same rows with the patient unknown to the fit.
prediction_rows <- function(data, group) {
  rows <- head(data, 6)
  unseen <- rows
  unseen[[group]] <- "unseen"
  list(rows = rows, unseen = unseen)
}

interval_rows <- function(ci) {
  list(names = I(strigil_name(rownames(ci))), lower = ci[, 1], upper = ci[, 2])
}

fit_case <- function(name, formula, data, reml, source, profile = TRUE, group = "patient") {
  fit <- lmer(formula, data = data, REML = reml, control = ctrl)
  pr <- prediction_rows(data, group)
  ll <- logLik(fit)
  fe <- fixef(fit)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  vc <- VarCorr(fit)
  random_sd <- list()
  random_corr <- list()
  for (g in names(vc)) {
    m <- vc[[g]]
    sds <- attr(m, "stddev")
    names(sds) <- strigil_name(names(sds))
    random_sd[[g]] <- as.list(sds)
    cr <- attr(m, "correlation")
    terms <- strigil_name(colnames(m))
    pairs <- setNames(list(), character(0))
    if (length(terms) > 1) {
      for (j in 1:(length(terms) - 1)) for (k in (j + 1):length(terms)) {
        pairs[[paste0(terms[j], ":", terms[k])]] <- cr[j, k]
      }
    }
    random_corr[[g]] <- pairs
  }
  names(fe) <- strigil_name(names(fe))
  names(se) <- strigil_name(names(se))
  out <- list(
    case = name,
    source = source,
    formula = paste(deparse(formula, width.cutoff = 500), collapse = ""),
    reml = reml,
    fixed = as.list(fe),
    se = as.list(se),
    random_sd = random_sd,
    random_corr = random_corr,
    sigma = sigma(fit),
    objective = if (reml) REMLcrit(fit) else deviance(fit),
    minus2loglik = -2 * as.numeric(logLik(fit)),
    theta = as.numeric(getME(fit, "theta")),
    n_obs = nobs(fit),
    n_groups = as.list(ngrps(fit)),
    logLik = as.numeric(ll),
    df = attr(ll, "df"),
    AIC = AIC(fit),
    BIC = BIC(fit),
    ranef = random_effects(fit),
    fitted = as.numeric(fitted(fit)),
    predict_rows = seq_len(nrow(pr$rows)) - 1L,
    predict_patient = as.numeric(predict(fit, newdata = pr$rows)),
    predict_population = as.numeric(predict(fit, newdata = pr$rows, re.form = NA)),
    predict_unseen = as.numeric(predict(fit, newdata = pr$unseen, allow.new.levels = TRUE)),
    confint_wald = interval_rows(confint(fit, method = "Wald", parm = "beta_")),
    confint_profile = if (profile) interval_rows(suppressWarnings(confint(fit, method = "profile",
                                                                          oldNames = FALSE))) else NULL,
    printed = I(capture.output(print(summary(fit), correlation = FALSE))),
    lme4_version = as.character(packageVersion("lme4")),
    R_version = R.version.string
  )
  path <- file.path(here, paste0(name, if (reml) "_reml" else "_ml", ".json"))
  writeLines(toJSON(exact(out), auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), path)
  cat("wrote", path, "\n")
}

# lme4's sleepstudy (Belenky et al. 2003, shipped with lme4); exported so the Python tests read the same rows.
data(sleepstudy, package = "lme4")
write.csv(sleepstudy, file.path(here, "sleepstudy.csv"), row.names = FALSE)
for (reml in c(TRUE, FALSE)) {
  fit_case("sleepstudy", Reaction ~ Days + (Days | Subject), sleepstudy, reml, "lme4::sleepstudy",
           group = "Subject")
  fit_case("sleepstudy_intercept", Reaction ~ Days + (1 | Subject), sleepstudy, reml, "lme4::sleepstudy",
           group = "Subject")
}

read_registry <- function(file) {
  d <- read.csv(file.path(here, file), stringsAsFactors = FALSE)
  d$phase <- factor(d$phase, levels = c("acute", "chronic"))
  d
}

reg_t <- read_registry("registry_t.csv")
f_true <- pain ~ session + session:minutes + session:exercise + phase
for (reml in c(TRUE, FALSE)) {
  fit_case("registry_t", update(f_true, . ~ . + (1 + session | patient)), reg_t, reml, "registry_t.csv")
  # patients nested in clinics
  fit_case("registry_t_clinic", update(f_true, . ~ . + (1 + session | patient) + (1 | clinic)), reg_t, reml,
           "registry_t.csv")
}

reg_s <- read_registry("registry_skewed.csv")
for (reml in c(TRUE, FALSE)) {
  fit_case("registry_skewed", update(f_true, . ~ . + (1 + session | patient)), reg_s, reml, "registry_skewed.csv",
           profile = FALSE)
  # clinic crossed with patient (about one visit in five at another clinic)
  fit_case("registry_skewed_crossed", update(f_true, . ~ . + (1 + session | patient) + (1 | clinic)), reg_s, reml,
           "registry_skewed.csv", profile = FALSE)
}

# Likelihood-ratio tests between nested fits: anova() refits REML fits by ML, as lme4 does by default.
lrt <- function(name, small, large, data) {
  a <- anova(lmer(small, data = data, control = ctrl), lmer(large, data = data, control = ctrl))
  list(case = name, small = paste(deparse(small, width.cutoff = 500), collapse = ""),
       large = paste(deparse(large, width.cutoff = 500), collapse = ""),
       npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik, deviance = a$deviance,
       Chisq = a$Chisq[2], Df = a$Df[2], p = a[["Pr(>Chisq)"]][2])
}
tests <- list(
  lrt("sleepstudy_slope", Reaction ~ Days + (1 | Subject), Reaction ~ Days + (Days | Subject), sleepstudy),
  lrt("registry_t_clinic", update(f_true, . ~ . + (1 + session | patient)),
      update(f_true, . ~ . + (1 + session | patient) + (1 | clinic)), reg_t),
  lrt("registry_t_dose", pain ~ session + phase + (1 + session | patient), update(f_true, . ~ . + (1 + session | patient)),
      reg_t)
)
writeLines(toJSON(exact(list(tests = tests, lme4_version = as.character(packageVersion("lme4")))),
                  auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), file.path(here, "anova.json"))
cat("wrote anova.json\n")
