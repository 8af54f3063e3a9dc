# Golden values for rlmeta's profile-likelihood CIs of tau^2 (confint(type = "PL")), from metafor.
#
# Run from the repository root (needs Debian's r-cran-metafor and r-cran-jsonlite):
#   Rscript tests/reference/make_golden_pl.R
# Writes tests/reference/golden_pl.json (inputs next to the results); the suite only reads it.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
nor <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
set.seed(11)
gen <- function(k, tau2) {
  vi <- runif(k, 0.01, 0.2)
  data.frame(yi = rnorm(k, 0.3, sqrt(vi + tau2)), vi = vi, x = rnorm(k))
}
sets <- list(
  bcg = data.frame(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), x = dat.bcg$ablat),
  normand = data.frame(yi = as.numeric(nor$yi), vi = as.numeric(nor$vi), x = seq_len(nrow(nor))),
  gen3 = gen(3, 0.05), gen10 = gen(10, 0.02), gen40 = gen(40, 0.3), gen25_0 = gen(25, 0),
  huge = gen(12, 60)  # tau^2 near the default search limit of 100
)

cases <- list()
for (dn in names(sets)) {
  d <- sets[[dn]]
  for (m in c("REML", "ML")) for (mods in c(FALSE, TRUE)) for (lvl in c(95, 90)) {
    if (mods && nrow(d) < 5) next
    res <- if (mods) rma(yi, vi, mods = ~ x, data = d, method = m, level = lvl)
           else rma(yi, vi, data = d, method = m, level = lvl)
    ci <- tryCatch(confint(res, type = "PL"), error = function(e) NULL)
    if (is.null(ci)) next
    r <- ci$random
    cases[[length(cases) + 1]] <- list(
      dataset = dn, method = m, mods = mods, level = lvl / 100, tau2 = num(res$tau2),
      tau2_lb = num(r["tau^2", "ci.lb"]), tau2_ub = num(r["tau^2", "ci.ub"]),
      tau_lb = num(r["tau", "ci.lb"]), tau_ub = num(r["tau", "ci.ub"]),
      i2_lb = num(r["I^2(%)", "ci.lb"]), i2_ub = num(r["I^2(%)", "ci.ub"]),
      h2_lb = num(r["H^2", "ci.lb"]), h2_ub = num(r["H^2", "ci.ub"]),
      lb_sign = ci$lb.sign, ub_sign = ci$ub.sign)
  }
}
meta <- list(metafor_version = as.character(packageVersion("metafor")), r_version = R.version.string,
             generated = format(Sys.time(), "%Y-%m-%d"))
writeLines(toJSON(list(meta = meta, datasets = sets, cases = cases), auto_unbox = TRUE, digits = NA,
                  na = "null", dataframe = "columns"), "tests/reference/golden_pl.json")
cat("wrote golden_pl.json with", length(cases), "cases\n")
