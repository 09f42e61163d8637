# Reference numbers for the effect sizes whose computation changed after metafor 3.8 (Debian's
# r-cran-metafor): the SMDH, SMD1H and SMCRH sampling variances (metafor 4.6-0) and the bias-corrected
# log ratio of means ROM/ROMC, the default since metafor 5.0-1. Needs metafor >= 5.0-1.
#
# Debian ships metafor 3.8-1 and CRAN is out of reach here, so these numbers were made with metafor
# 5.0-1 built from its source release (README.md, "metafor 5.0-1"):
#   R_LIBS=/path/to/metafor-5.0-1-library Rscript tests/reference/metafor/make_current_fixtures.R
# run from the repository root. Writes escalc_current.json next to this script.

suppressPackageStartupMessages(library(metafor))

out_dir <- "tests/reference/metafor"
if (!dir.exists(out_dir)) stop("run from the repository root")
if (packageVersion("metafor") < "5.0.1")
  stop("needs metafor >= 5.0-1 (found ", packageVersion("metafor"), "); see README.md, 'metafor 5.0-1'")
source(file.path(out_dir, "json_helpers.R"))

cases <- list()
add_escalc <- function(id, measure, dataset, inputs, options = list()) {
  es <- do.call(escalc, c(list(measure = measure), inputs, options))
  cases[[length(cases) + 1]] <<- list(id = id, measure = measure, dataset = dataset,
                                      inputs = lapply(inputs, vec), options = options,
                                      yi = vec(es$yi), vi = vec(es$vi))
}
nd <- dat.normand1999
two <- list(m1i = nd$m1i, sd1i = nd$sd1i, n1i = nd$n1i, m2i = nd$m2i, sd2i = nd$sd2i, n2i = nd$n2i)
for (m in c("SMDH", "SMD1H", "ROM")) add_escalc(paste0("normand_", m), m, "dat.normand1999", two)
add_escalc("normand_ROM_nocorrect", "ROM", "dat.normand1999", two, list(correct = FALSE))
cu <- dat.curtis1998
add_escalc("curtis_ROM", "ROM", "dat.curtis1998",
           list(m1i = cu$m1i, sd1i = cu$sd1i, n1i = cu$n1i, m2i = cu$m2i, sd2i = cu$sd2i, n2i = cu$n2i))
# the seeded pre-post data that make_binary_fixtures.R wrote into binary.json
pp <- lapply(fromJSON(file.path(out_dir, "binary.json"))$tables$prepost$columns, as.numeric)
for (m in c("SMCRH", "ROMC")) add_escalc(paste0("prepost_", m), m, "seeded pre-post", pp)
add_escalc("prepost_ROMC_nocorrect", "ROMC", "seeded pre-post", pp, list(correct = FALSE))
write_json_file(list(meta = meta_block(), cases = cases), "escalc_current.json")
