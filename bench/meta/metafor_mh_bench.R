# metafor side of bench/meta/bench_mh.py: times an in-process loop of rma.mh() over the simulated sets of
# 2x2 tables written by the Python script, and writes the estimates and tests for comparison.
#
# Usage: Rscript bench/meta/metafor_mh_bench.R SETS.csv OUT.json REPS
# SETS.csv has columns set, ai, bi, ci, di (long format, k rows per set).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
out <- args[2]
reps <- as.integer(args[3])
sets <- split(dat[, c("ai", "bi", "ci", "di")], dat$set)

fit_one <- function(d) {
  # what rma.mh() prints by default: estimate, SE, CI, Q, I^2, H^2 and the CMH, Breslow-Day and Tarone tests
  r <- suppressWarnings(rma.mh(ai = d$ai, bi = d$bi, ci = d$ci, di = d$di, measure = "OR"))
  c(r$beta, r$se, r$ci.lb, r$QE, r$I2, r$MH, r$BD, r$TA)
}

times <- numeric(reps)
cpu <- numeric(reps)
for (i in seq_len(reps)) {
  t0 <- proc.time()
  res <- lapply(sets, fit_one)
  dt <- proc.time() - t0
  times[i] <- dt[["elapsed"]]
  cpu[i] <- dt[["user.self"]] + dt[["sys.self"]]
}
est <- do.call(rbind, res)
fmt <- function(x) ifelse(is.na(x), "null", formatC(x, digits = 17, format = "g"))
writeLines(toJSON(list(
  metafor = as.character(packageVersion("metafor")),
  n_sets = length(sets),
  seconds = I(times),
  cpu = I(cpu),
  estimates = lapply(seq_len(ncol(est)), function(j) I(est[, j]))
), digits = NA, na = "null", auto_unbox = TRUE), out)
