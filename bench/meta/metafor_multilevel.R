# metafor side of bench/meta/bench_multilevel.py: times rma.mv(yi, vi, random = ~ 1 | trial/effect,
# sparse = TRUE) (REML) on the data the Python script wrote, and writes the estimates for comparison.
#
# Usage: Rscript bench/meta/metafor_multilevel.R DATA.csv OUT.json REPS

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
reps <- as.integer(args[3])

times <- numeric(reps)
cpu <- numeric(reps)
for (i in seq_len(reps)) {
  t0 <- proc.time()
  res <- rma.mv(yi, vi, random = ~ 1 | trial/effect, data = dat, method = "REML", sparse = TRUE)
  dt <- proc.time() - t0
  times[i] <- dt[["elapsed"]]
  cpu[i] <- dt[["user.self"]] + dt[["sys.self"]]
}

writeLines(toJSON(list(
  metafor = as.character(packageVersion("metafor")),
  R = R.version.string,
  seconds = I(times),
  cpu = I(cpu),
  sigma2 = I(res$sigma2),
  b = I(as.numeric(res$beta)),
  se = I(res$se),
  ci_lb = I(res$ci.lb),
  ci_ub = I(res$ci.ub),
  QE = res$QE,
  logLik = as.numeric(logLik(res))
), digits = NA, auto_unbox = TRUE), args[2])
