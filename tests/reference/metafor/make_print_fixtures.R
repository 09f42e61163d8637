# What metafor prints: the console output of print() for fitted models and diagnostics, with the data
# behind each case, so that strigil's summaries can be compared with metafor's line by line.
# R packages: metafor (Debian r-cran-metafor, with metadat), lme4 (for rma.glmm), clubSandwich (for
# robust), jsonlite.
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

add("summary/rma/REML", "summary(rma(yi, vi))", summary(res), "rma")
add("fitstats/rma/REML", "fitstats(rma(yi, vi))", fitstats(res), "fitstats")

# multilevel: schools within districts (Konstantopoulos 2011); multivariate: two outcomes per trial (Berkey
# et al. 1998) with the sampling covariances of each trial; metafor's default convergence settings (the
# printout has 4 decimals)
kon <- dat.konstantopoulos2011
ml <- rma.mv(yi, vi, random = ~ 1 | district/school, data = kon)
ml_year <- rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = kon)
ml_ml <- rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = kon, method = "ML")
ml_ml0 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = kon, method = "ML")
add("mv/multilevel", "rma.mv(yi, vi, random = ~ 1 | district/school)", ml, "rma.mv")
add("mv/multilevel/year", "rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school)", ml_year, "rma.mv")
add("mv/anova/wald", "anova(rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school), btt = 2)",
    anova(ml_year, btt = 2), "wald")
add("mv/anova/lrt", "anova(full, reduced) (ML)", anova(ml_ml, ml_ml0), "lrt")
add("mv/robust", "robust(rma.mv(...), cluster = district, clubSandwich = TRUE)",
    robust(ml, cluster = kon$district, clubSandwich = TRUE), "robust")
bk <- dat.berkey1998
V <- bldiag(lapply(split(bk[, c("v1i", "v2i")], bk$trial), as.matrix))
mv <- rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN", data = bk)
add("mv/multivariate/UN", "rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = 'UN')",
    mv, "rma.mv")
data$konstantopoulos <- list(yi = vec(kon$yi), vi = vec(kon$vi), district = vec(kon$district),
                             school = vec(kon$school), year = vec(kon$year))
data$berkey <- list(yi = vec(bk$yi), v1i = vec(bk$v1i), v2i = vec(bk$v2i), trial = vec(bk$trial),
                    outcome = I(as.character(bk$outcome)))

write_json_file(list(meta = meta_block(), data = data, cases = cases), "printed.json")
