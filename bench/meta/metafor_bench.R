# metafor side of bench/meta/bench_meta.py: times an in-process loop of rma() fits on the data sets
# written by the Python script, counts convergence failures and writes the estimates for comparison.
#
# Usage: Rscript bench/meta/metafor_bench.R SETS.csv OUT.json REPS
# SETS.csv has columns set, yi, vi (long format, k rows per set).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
out <- args[2]
reps <- as.integer(args[3])
sets <- split(dat[, c("yi", "vi")], dat$set)

fit_one <- function(d) {
  # what rma() prints by default: estimate, SE, test, CI, tau^2, Q, I^2, H^2 (no Q-profile interval)
  r <- tryCatch(rma(d$yi, d$vi, method = "REML"), error = function(e) NULL)
  if (is.null(r)) return(c(NA, NA, NA, NA, NA, NA))
  c(r$b[1], r$se, r$zval, r$ci.lb, r$tau2, r$QE + r$I2 + r$H2)
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
failures <- sum(is.na(est[, 1]))
messages <- unlist(lapply(sets, function(d) tryCatch({rma(d$yi, d$vi, method = "REML"); NULL},
                                                    error = function(e) conditionMessage(e))))

writeLines(toJSON(list(
  metafor = as.character(packageVersion("metafor")),
  n_sets = length(sets),
  seconds = I(times),
  cpu = I(cpu),
  failures = failures,
  failure_messages = as.list(table(messages)),
  estimate = est[, 1],
  tau2 = est[, 5]
), digits = NA, na = "null", auto_unbox = TRUE), out)
