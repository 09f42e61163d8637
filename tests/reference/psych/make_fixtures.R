# Reference numbers for strigil.force.reliability, computed by R's psych::ICC and base R.
#
# Run from the repository root:  Rscript tests/reference/psych/make_fixtures.R
# Writes icc.json next to this script (layout: README.md in this folder). Numbers are written with 17
# significant digits. Needs only psych and jsonlite, as packaged by Debian (r-cran-psych, r-cran-jsonlite).

suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

out_dir <- "tests/reference/psych"
if (!dir.exists(out_dir)) stop("run from the repository root")

fmt1 <- function(x) {
  if (is.na(x) && !is.nan(x)) return("\"NA\"")
  if (is.nan(x)) return("\"NaN\"")
  if (is.infinite(x)) return(if (x > 0) "\"Inf\"" else "\"-Inf\"")
  trimws(formatC(x, digits = 17, format = "g"))
}
vec <- function(x) structure(paste0("[", paste(vapply(as.numeric(x), fmt1, ""), collapse = ","), "]"),
                             class = "json")
num <- function(x) structure(fmt1(as.numeric(x)[1]), class = "json")

# ---------------------------------------------------------------- data sets (subjects x sessions)
sets <- list()
# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges (the example of psych::ICC's help page).
sets[["shrout_fleiss_1979"]] <- list(
  note = "Shrout & Fleiss 1979, Table 2 (6 targets x 4 judges)",
  scores = matrix(c(9, 2, 5, 8,  6, 1, 3, 2,  8, 4, 6, 8,  7, 1, 2, 6,  10, 5, 6, 9,  6, 2, 4, 7),
                  ncol = 4, byrow = TRUE))

# Force-like tables: a clinician's average peak force per session (N). Clinician levels differ (SD 2 N),
# sessions shift everyone a little, and each cell has its own error.
force_table <- function(n, k, seed, between = 2, session_sd = 0.4, error = 0.8, level = 8) {
  set.seed(seed)
  person <- rnorm(n, level, between)
  session <- rnorm(k, 0, session_sd)
  round(outer(person, session, "+") + matrix(rnorm(n * k, 0, error), n, k), 3)
}
sets[["force_5x2"]] <- list(note = "5 clinicians x 2 days (seed 1)", scores = force_table(5, 2, 1))
sets[["force_11x3"]] <- list(note = "11 clinicians x 3 sessions (seed 2)", scores = force_table(11, 3, 2))
sets[["force_15x2"]] <- list(note = "15 clinicians x 2 days (seed 3)", scores = force_table(15, 2, 3))
sets[["force_40x5"]] <- list(note = "40 clinicians x 5 sessions (seed 4)",
                             scores = force_table(40, 5, 4, between = 1.5, session_sd = 1, error = 1))
# Hardly any difference between clinicians: ICCs near zero or negative.
sets[["force_no_between"]] <- list(note = "12 x 3 with no between-clinician variance (seed 5)",
                                   scores = force_table(12, 3, 5, between = 0, session_sd = 0.2, error = 1))
# A large session effect: ICC(2,1) (absolute agreement) well below ICC(3,1) (consistency).
sets[["force_session_shift"]] <- list(note = "8 x 2 with a 3 N shift between days (seed 6)",
                                      scores = force_table(8, 2, 6, session_sd = 3))

# ---------------------------------------------------------------- psych::ICC and Bland-Altman
cases <- list()
for (name in names(sets)) {
  x <- sets[[name]]$scores
  for (alpha in c(0.05, 0.10)) {
    res <- ICC(x, alpha = alpha, lmer = FALSE)
    r <- res$results
    icc <- lapply(seq_len(nrow(r)), function(i) list(
      type = r$type[i], ICC = num(r$ICC[i]), F = num(r$F[i]), df1 = num(r$df1[i]), df2 = num(r$df2[i]),
      p = num(r$p[i]), lower = num(r[i, "lower bound"]), upper = num(r[i, "upper bound"])))
    # Bland-Altman of consecutive columns, computed with base R exactly as Bland & Altman (1986) describe:
    # d = second - first; limits = mean(d) -/+ z sd(d); t intervals, SE(limits) = sd(d) sqrt(3/n).
    level <- 1 - alpha
    ba <- lapply(seq_len(ncol(x) - 1), function(j) {
      d <- x[, j + 1] - x[, j]
      n <- length(d)
      m <- mean(d); s <- sd(d)
      z <- qnorm(1 - alpha / 2); t <- qt(1 - alpha / 2, n - 1)
      lo <- m - z * s; hi <- m + z * s
      list(first = j, second = j + 1, bias = num(m), sd = num(s), lower_loa = num(lo), upper_loa = num(hi),
           bias_ci = vec(c(m - t * s / sqrt(n), m + t * s / sqrt(n))),
           lower_loa_ci = vec(c(lo - t * s * sqrt(3 / n), lo + t * s * sqrt(3 / n))),
           upper_loa_ci = vec(c(hi - t * s * sqrt(3 / n), hi + t * s * sqrt(3 / n))))
    })
    cases[[length(cases) + 1]] <- list(
      id = paste0(name, "/alpha=", alpha), dataset = name, alpha = num(alpha),
      n_obs = nrow(x), n_judge = ncol(x), icc = icc,
      MSB = num(res$stats[3, 1]), MSJ = num(res$stats[3, 2]), MSE = num(res$stats[3, 3]),
      sem = num(sqrt(res$stats[3, 3])), bland_altman = ba)
  }
}

datasets <- lapply(sets, function(s) list(note = s$note, scores = lapply(seq_len(nrow(s$scores)),
                                                                         function(i) vec(s$scores[i, ]))))
out <- list(
  meta = list(psych = as.character(packageVersion("psych")), R = R.version.string,
              generated = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
              call = "ICC(x, alpha = alpha, lmer = FALSE)"),
  datasets = datasets, cases = cases)
txt <- toJSON(out, auto_unbox = TRUE, null = "null", na = "string", json_verbatim = TRUE,
              pretty = FALSE, digits = NA)
writeLines(txt, file.path(out_dir, "icc.json"))
cat("wrote icc.json\n")
