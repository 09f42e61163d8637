# Reference numbers for tests/evidence: metafor's escalc() and rma() on the library's arm-level rows.
# Run from the project root:  Rscript tests/reference/metafor/make_study_effects.R
# Writes tests/reference/metafor/study_effects.json. The inputs are copied from
# src/strigil/evidence/data/iastm_trials.csv (numbers as printed); IASTM arm first (m1i), comparison second.
library(metafor)
library(jsonlite)

arms <- data.frame(
  row   = c(57, 59, 61, 63, 65, 67, 69, 72, 73),
  study = c("lee2016", "lee2016", "lee2016", "lee2016", "lee2016", "lee2016", "elhafez2020", "kivlan2015", "kivlan2015"),
  n1i = c(15, 15, 15, 15, 15, 15, 20, 15, 15),
  m1i = c(25.5, 89.3, 19.8, 25.6, 25.7, 118.1, 3.45, 15, 15),
  sd1i = c(7.3, 10.5, 2.4, 4.7, 4.6, 8.1, 1.09, 18, 18),
  n2i = c(15, 15, 15, 15, 15, 15, 20, 15, 15),
  m2i = c(44.6, 75.5, 14.6, 23.6, 24.2, 111.8, 3.10, -6, -1),
  sd2i = c(12.9, 17.5, 2.3, 3.3, 3.3, 5.5, 0.72, 11, 17)
)
md <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = arms)
smd <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = arms)

# Braun 2011: a printed mean difference with its 95% CI (metafor: sei from the CI width)
braun_sei <- (-16.6 - -43.3) / (2 * qnorm(0.975))

# A constructed pool (two pain SMDs of the library: Lee 2016 VAS mm and El-Hafez 2020 VAS 0-10), to check
# the pooling call Strigil makes (REML, Knapp-Hartung).
pool <- rma(yi = smd$yi[c(1, 7)], vi = smd$vi[c(1, 7)], method = "REML", test = "knha")

out <- list(
  metafor_version = as.character(packageVersion("metafor")),
  rows = arms$row,
  md_yi = as.numeric(md$yi), md_vi = as.numeric(md$vi),
  smd_yi = as.numeric(smd$yi), smd_vi = as.numeric(smd$vi),
  braun = list(yi = -29.9, vi = braun_sei^2),
  pool_lee_elhafez_smd = list(estimate = as.numeric(pool$beta), ci_lb = pool$ci.lb, ci_ub = pool$ci.ub,
                              tau2 = pool$tau2, I2 = pool$I2)
)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/metafor/study_effects.json")
