# Reference effect sizes for strigil.interop.research.effect_rows, computed with R's own mean/sd/cor and
# metafor's escalc(measure = "SMCR"). Run from the project root:
#   Rscript tests/reference/metafor/make_research_effects.R
# Numbers are written as text with 17 significant digits. Values are oriented so that improvement is a decrease (sign flipped where higher is better), as documented
# in effect_rows. Strata with fewer than 5 patients are left out (here: none is that small).
library(metafor)
library(jsonlite)
pairs <- read.csv("tests/reference/metafor/research_effect_pairs.csv", stringsAsFactors = FALSE)
pairs$sign <- ifelse(pairs$direction == "higher_is_better", -1, 1)
keys <- unique(pairs[, c("condition", "measure", "phase")])
num <- function(x) sprintf("%.17g", x)  # jsonlite keeps at most 15 digits: carry 17 as text
rows <- list()
for (k in seq_len(nrow(keys))) {
  g <- merge(pairs, keys[k, ])
  before <- g$sign * g$baseline
  after <- g$sign * g$final
  es <- escalc(measure = "SMCR", m1i = mean(before), m2i = mean(after), sd1i = sd(before),
               ri = cor(before, after), ni = nrow(g))
  rows[[k]] <- list(condition = keys$condition[k], measure = keys$measure[k], phase = keys$phase[k],
                    ni = nrow(g), m1i = num(mean(before)), m2i = num(mean(after)), sd1i = num(sd(before)),
                    sd2i = num(sd(after)),
                    ri = num(cor(before, after)), yi = num(as.numeric(es$yi)), vi = num(as.numeric(es$vi)),
                    mean_sessions = num(mean(g$sessions)), mean_iastm_minutes = num(mean(g$iastm_minutes)),
                    mean_days = num(mean(g$days)))
}
writeLines(toJSON(list(generator = paste("metafor", packageVersion("metafor"), R.version.string),
                       rows = rows), auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/metafor/research_effects.json")
