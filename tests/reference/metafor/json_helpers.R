# JSON writing shared by the fixture scripts in this folder (conventions: README.md).
# Numbers carry 17 significant digits; R's non-finite values become the strings "NA", "NaN", "Inf", "-Inf".
# Source it after setting `out_dir`:  source(file.path(out_dir, "json_helpers.R"))

suppressPackageStartupMessages(library(jsonlite))

fmt1 <- function(x) {
  if (is.na(x) && !is.nan(x)) return("\"NA\"")
  if (is.nan(x)) return("\"NaN\"")
  if (is.infinite(x)) return(if (x > 0) "\"Inf\"" else "\"-Inf\"")
  trimws(formatC(x, digits = 17, format = "g"))
}
# A numeric vector, always written as a JSON array.
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
write_json_file <- function(obj, name) {
  txt <- toJSON(obj, auto_unbox = TRUE, null = "null", na = "string", json_verbatim = TRUE,
                pretty = FALSE, digits = NA)
  writeLines(txt, file.path(out_dir, name))
  cat("wrote", name, "\n")
}
# Run an expression, keeping its warnings; an error becomes list(ok = FALSE, error = message).
capture <- function(expr) {
  warns <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(msg = conditionMessage(e)), class = "fail")),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  list(value = value, warnings = I(unique(warns)), failed = inherits(value, "fail"))
}
# The versions that made a file.
meta_block <- function(extra = list()) {
  c(list(metafor = as.character(packageVersion("metafor")),
         metadat = as.character(packageVersion("metadat")),
         R = R.version.string,
         generated = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")), extra)
}
