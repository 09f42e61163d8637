# What metafor prints: the console output of print() for fitted models and diagnostics, with the data
# behind each case, so that strigil's summaries can be compared with metafor's line by line.
# R packages: metafor (Debian r-cran-metafor, with metadat), lme4 (for rma.glmm), jsonlite.
#
# Run from the repository root:  Rscript tests/reference/metafor/make_print_fixtures.R
# Writes printed.json next to this script. Layout: README.md in this folder ("printed.json").

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
})

out_dir <- "tests/reference/metafor"
if (!dir.exists(out_dir)) stop("run from the repository root")
source(file.path(out_dir, "json_helpers.R"))
options(width = 200)

bcg <- dat.bcg
es <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
slab <- paste(bcg$author, bcg$year)
data <- list(yi = vec(es$yi), vi = vec(es$vi), ablat = vec(bcg$ablat), year = vec(bcg$year),
             ai = vec(bcg$tpos), bi = vec(bcg$tneg), ci = vec(bcg$cpos), di = vec(bcg$cneg),
             slab = I(slab))
printed <- function(x) I(capture.output(print(x)))
cases <- list()
add <- function(id, call, x, kind) {
  cases[[length(cases) + 1]] <<- list(id = id, kind = kind, call = call, lines = printed(x))
}
CTRL <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5)
fit <- function(...) rma(yi, vi, data = es, slab = slab, control = CTRL, ...)

res <- fit()
add("rma/REML", "rma(yi, vi)", res, "rma")
add("rma/DL/t", "rma(yi, vi, method='DL', test='t')", fit(method = "DL", test = "t"), "rma")
add("rma/FE", "rma(yi, vi, method='FE')", fit(method = "FE"), "rma")
add("rma/EE", "rma(yi, vi, method='EE')", fit(method = "EE"), "rma")
add("rma/ML/mods", "rma(yi, vi, mods=~ablat, method='ML')", fit(mods = ~ ablat, method = "ML"), "rma")
add("rma/REML/mods/knha", "rma(yi, vi, mods=~ablat+year, test='knha')",
    fit(mods = ~ ablat + year, test = "knha"), "rma")
add("rma/FE/mods", "rma(yi, vi, mods=~ablat, method='FE')", fit(mods = ~ ablat, method = "FE"), "rma")
add("regtest", "regtest(rma(yi, vi))", regtest(res), "regtest")
add("ranktest", "ranktest(rma(yi, vi))", suppressWarnings(ranktest(res)), "ranktest")
add("trimfill", "trimfill(rma(yi, vi))", trimfill(res), "trimfill")
add("mh/OR", "rma.mh(ai, bi, ci, di)", rma.mh(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg), "mh")
add("mh/RR", "rma.mh(ai, bi, ci, di, measure='RR')",
    rma.mh(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg, measure = "RR"), "mh")
add("mh/RD", "rma.mh(ai, bi, ci, di, measure='RD')",
    rma.mh(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg, measure = "RD"), "mh")
add("peto", "rma.peto(ai, bi, ci, di)", rma.peto(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg),
    "peto")
glmm_ctrl <- list(glmerCtrl = list(optimizer = "bobyqa", tolPwrss = 1e-10,
                                   optCtrl = list(rhoend = 1e-10, maxfun = 1e6)))
add("glmm/OR", "rma.glmm(ai, bi, ci, di, measure='OR', model='UM.RS')",
    rma.glmm(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg, measure = "OR", model = "UM.RS",
             control = glmm_ctrl),
    "glmm")

write_json_file(list(meta = meta_block(), data = data, cases = cases), "printed.json")
