# Data sets on which metafor's default REML Fisher scoring fails, with the solution metafor reaches
# with damped steps and tight settings, and data sets whose REML profile is bimodal (τ² = 0 is a
# local maximum, yet a higher one lies inside). strigil must converge on every one and agree.
#
# Run from the repository root:  Rscript tests/reference/metafor/make_convergence_fixtures.R
# Writes convergence.json next to this script: {meta, cases: [{id, yi, vi, default_error, tau2, b,
# se, se_tau2}], bimodal: [{id, yi, vi, score_at_0, tau2, b, se, se_tau2, ll, ll_0}]}, numbers as
# arrays with 17 significant digits. Same conventions as README.md in this folder.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_dir <- "tests/reference/metafor"
if (!dir.exists(out_dir)) stop("run from the repository root")

# numbers as JSON with 17 significant digits (jsonlite itself stops at 15)
num17 <- function(x) structure(paste0("[", paste(sprintf("%.17g", as.numeric(x)), collapse = ","), "]"),
                               class = "json")

TIGHT <- list(stepadj = 0.5, maxiter = 10000, threshold = 1e-12)
set.seed(20261121)
cases <- list()
bimodal <- list()
# twice the REML score at tau^2 = 0 (intercept-only model): y'PPy - tr(P) with P built on 1/vi
score0 <- function(yi, vi) {
  w <- 1 / vi
  e <- yi - sum(w * yi) / sum(w)
  sum((w * e)^2) - (sum(w) - sum(w^2) / sum(w))
}
for (i in 1:3000) {
  # the design of bench/meta: k = 20, vi ~ U(0.01, 0.5), tau^2 in {0, 0.05, 0.2}
  vi <- runif(20, 0.01, 0.5)
  tau2 <- sample(c(0, 0.05, 0.2), 1)
  yi <- rnorm(20, 0, sqrt(vi + tau2))
  err <- tryCatch({ rma(yi, vi, method = "REML"); NULL }, error = function(e) conditionMessage(e))
  if (is.null(err)) {
    r <- rma(yi, vi, method = "REML", control = TIGHT)
    g0 <- score0(yi, vi)
    ll_0 <- c(logLik(rma(yi, vi, tau2 = 0)))
    # (metafor's step-halving leaves τ² ≈ 1e-13 instead of 0 on ordinary boundary cases: skip those)
    if (g0 <= 0 && r$tau2 > 1e-8 && c(logLik(r)) > ll_0 + 1e-10) {
      bimodal[[length(bimodal) + 1]] <- list(
        id = paste0("sim", i), yi = num17(yi), vi = num17(vi), score_at_0 = num17(g0),
        tau2 = num17(r$tau2), b = num17(r$b), se = num17(r$se), se_tau2 = num17(r$se.tau2),
        ll = num17(logLik(r)), ll_0 = num17(ll_0))
    }
    next
  }
  r <- rma(yi, vi, method = "REML", control = TIGHT)
  cases[[length(cases) + 1]] <- list(id = paste0("sim", i), yi = num17(yi), vi = num17(vi),
                                     default_error = err, tau2 = num17(r$tau2), b = num17(r$b),
                                     se = num17(r$se), se_tau2 = num17(r$se.tau2))
}

# Bimodal profiles are rare in that design; they come more often with sampling variances spread
# over three orders of magnitude (k = 10, vi = 10^U(-3, 0), tau^2 in {0, 0.01, 0.05}).
for (i in 1:4000) {
  vi <- 10^runif(10, -3, 0)
  tau2 <- sample(c(0, 0.01, 0.05), 1)
  yi <- rnorm(10, 0, sqrt(vi + tau2))
  g0 <- score0(yi, vi)
  if (g0 > 0) next
  r <- tryCatch(rma(yi, vi, method = "REML", control = TIGHT), error = function(e) NULL)
  if (is.null(r)) next
  ll_0 <- c(logLik(rma(yi, vi, tau2 = 0)))
  if (r$tau2 > 1e-8 && c(logLik(r)) > ll_0 + 1e-10) {
    bimodal[[length(bimodal) + 1]] <- list(
      id = paste0("wide", i), yi = num17(yi), vi = num17(vi), score_at_0 = num17(g0),
      tau2 = num17(r$tau2), b = num17(r$b), se = num17(r$se), se_tau2 = num17(r$se.tau2),
      ll = num17(logLik(r)), ll_0 = num17(ll_0))
  }
}

meta <- list(metafor = as.character(packageVersion("metafor")), R = R.version.string,
             generated = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"), control = TIGHT,
             design = paste("cases: k=20, vi ~ U(0.01, 0.5), tau2 in {0, 0.05, 0.2}, yi ~ N(0, vi + tau2),",
                            "3000 sets; bimodal: also k=10, vi = 10^U(-3, 0), tau2 in {0, 0.01, 0.05}, 4000 sets"))
writeLines(toJSON(list(meta = meta, cases = cases, bimodal = bimodal), auto_unbox = TRUE,
                  json_verbatim = TRUE),
           file.path(out_dir, "convergence.json"))
cat("wrote convergence.json with", length(cases), "failures and", length(bimodal), "bimodal sets\n")
