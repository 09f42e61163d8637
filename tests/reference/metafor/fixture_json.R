# JSON writing for the metafor fixture scripts (conventions in README.md): numbers with 17
# significant digits, R's non-finite values as the strings "NA", "NaN", "Inf", "-Inf", vectors
# always as arrays, matrices row-major as arrays of rows. Sourced by make_fixtures.R and
# make_rma_mv_fixtures.R.

suppressPackageStartupMessages(library(jsonlite))

fmt1 <- function(x) {
  if (is.na(x) && !is.nan(x)) return("\"NA\"")
  if (is.nan(x)) return("\"NaN\"")
  if (is.infinite(x)) return(if (x > 0) "\"Inf\"" else "\"-Inf\"")
  trimws(formatC(x, digits = 17, format = "g"))
}

# A numeric vector, always a JSON array.
vec <- function(x) {
  if (is.null(x)) return(NULL)
  x <- as.numeric(x)
  structure(paste0("[", paste(vapply(x, fmt1, ""), collapse = ","), "]"), class = "json")
}

# A numeric scalar (NULL or zero length -> null).
num <- function(x) {
  if (is.null(x) || length(x) == 0) return(NULL)
  structure(fmt1(as.numeric(x)[1]), class = "json")
}

# A numeric matrix as an array of rows.
mat <- function(m) {
  if (is.null(m)) return(NULL)
  m <- as.matrix(m)
  rows <- vapply(seq_len(nrow(m)), function(i) as.character(vec(m[i, ])), "")
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}

# Character values, always a JSON array.
chr <- function(x) I(as.character(x))

write_fixture <- function(obj, path) {
  txt <- toJSON(obj, auto_unbox = TRUE, null = "null", na = "string", json_verbatim = TRUE,
                pretty = FALSE, digits = NA)
  writeLines(txt, path)
  cat("wrote", path, "\n")
}
