# Data sets on which metafor's default REML Fisher scoring fails, with the solution metafor reaches
# with damped steps and tight settings. strigil must converge on every one and agree.
#
# Run from the repository root:  Rscript tests/reference/metafor/make_convergence_fixtures.R
# Writes convergence.json next to this script: {meta, cases: [{id, yi, vi, default_error, tau2, b,
# se, se_tau2}]}, numbers as arrays with 17 significant digits. Same conventions as README.md in this folder.

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
for (i in 1:3000) {
  # the design of bench/meta: k = 20, vi ~ U(0.01, 0.5), tau^2 in {0, 0.05, 0.2}
  vi <- runif(20, 0.01, 0.5)
  tau2 <- sample(c(0, 0.05, 0.2), 1)
  yi <- rnorm(20, 0, sqrt(vi + tau2))
  err <- tryCatch({ rma(yi, vi, method = "REML"); NULL }, error = function(e) conditionMessage(e))
  if (is.null(err)) next
  r <- rma(yi, vi, method = "REML", control = TIGHT)
  cases[[length(cases) + 1]] <- list(id = paste0("sim", i), yi = num17(yi), vi = num17(vi),
                                     default_error = err, tau2 = num17(r$tau2), b = num17(r$b),
                                     se = num17(r$se), se_tau2 = num17(r$se.tau2))
}

meta <- list(metafor = as.character(packageVersion("metafor")), R = R.version.string,
             generated = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"), control = TIGHT,
             design = "k=20, vi ~ U(0.01, 0.5), tau2 in {0, 0.05, 0.2}, yi ~ N(0, vi + tau2); 3000 sets")
writeLines(toJSON(list(meta = meta, cases = cases), auto_unbox = TRUE, json_verbatim = TRUE),
           file.path(out_dir, "convergence.json"))
cat("wrote convergence.json with", length(cases), "cases\n")
