# Reference fits by lme4 for Strigil's mixed-model solver (strigil.registry).
# Run from the project root:  Rscript tests/reference/lme4/make_fixtures.R
# Needs the Debian packages r-cran-lme4 and r-cran-jsonlite. Writes one JSON file per case next to this script,
# numbers with 17 significant digits. The registries (*.csv) are written by make_registries.py.
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

fit_case <- function(name, formula, data, reml, source) {
  fit <- lmer(formula, data = data, REML = reml, control = ctrl)
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
  fit_case("sleepstudy", Reaction ~ Days + (Days | Subject), sleepstudy, reml, "lme4::sleepstudy")
  fit_case("sleepstudy_intercept", Reaction ~ Days + (1 | Subject), sleepstudy, reml, "lme4::sleepstudy")
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
  fit_case("registry_skewed", update(f_true, . ~ . + (1 + session | patient)), reg_s, reml, "registry_skewed.csv")
  # clinic crossed with patient (about one visit in five at another clinic)
  fit_case("registry_skewed_crossed", update(f_true, . ~ . + (1 + session | patient) + (1 | clinic)), reg_s, reml,
           "registry_skewed.csv")
}
