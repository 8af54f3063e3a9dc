# Golden values for rlmeta's Mantel-Haenszel and Peto pooling of 2x2 tables, from metafor.
#
# Run from the repository root (needs Debian's r-cran-metafor and r-cran-jsonlite):
#   Rscript tests/reference/make_golden_tables.R
# Writes tests/reference/golden_tables.json (the counts are written next to the results).
# The test suite only reads the JSON.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

set.seed(20261121)
gen <- function(k, n_lo, n_hi, p_lo, p_hi) {
  n1 <- sample(n_lo:n_hi, k, replace = TRUE); n2 <- sample(n_lo:n_hi, k, replace = TRUE)
  p2 <- runif(k, p_lo, p_hi); p1 <- plogis(qlogis(p2) + rnorm(k, 0.3, 0.3))
  ai <- rbinom(k, n1, p1); ci <- rbinom(k, n2, p2)
  data.frame(ai = ai, bi = n1 - ai, ci = ci, di = n2 - ci)
}
sets <- list(
  bcg = with(dat.bcg, data.frame(ai = tpos, bi = tneg, ci = cpos, di = cneg)),
  egger = with(dat.egger2001, data.frame(ai = ai, bi = n1i - ai, ci = ci, di = n2i - ci)),
  accuracy20 = gen(20, 100, 2000, 0.2, 0.8),           # benchmark-sized tables
  small_zero = gen(12, 5, 30, 0.02, 0.15),             # rare events: zero cells
  # double zeros (no events in either arm; all events in both) and a zero cell
  zeros = data.frame(ai = c(0, 5, 12, 30, 0, 7), bi = c(20, 15, 8, 0, 40, 13),
                     ci = c(0, 2, 9, 25, 3, 4), di = c(25, 18, 11, 0, 37, 16))
)

cases <- list()
for (dn in names(sets)) {
  d <- sets[[dn]]
  grab <- function(r, method, measure, correct = NA) {
    out <- list(dataset = dn, method = method, measure = measure, correct = correct,
                beta = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval),
                ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub), k = r$k, k_yi = r$k.yi,
                QE = num(r$QE), QEp = num(r$QEp), I2 = num(r$I2), H2 = num(r$H2))
    if (method == "MH" && measure == "OR") {
      out$CMH <- num(r$MH); out$CMHp <- num(r$MHp); out$TA <- num(r$TA); out$TAp <- num(r$TAp)
      out$BD <- num(r$BD); out$BDp <- num(r$BDp); out$k_pos <- r$k.pos
    }
    cases[[length(cases) + 1]] <<- out
  }
  for (m in c("OR", "RR", "RD")) {
    grab(suppressWarnings(rma.mh(ai = ai, bi = bi, ci = ci, di = di, data = d, measure = m)), "MH", m,
         if (m == "OR") TRUE else NA)
  }
  grab(suppressWarnings(rma.mh(ai = ai, bi = bi, ci = ci, di = di, data = d, measure = "OR",
                               correct = FALSE)), "MH", "OR", FALSE)
  grab(suppressWarnings(rma.peto(ai = ai, bi = bi, ci = ci, di = di, data = d)), "Peto", "OR")
}

meta <- list(metafor_version = as.character(packageVersion("metafor")), r_version = R.version.string,
             generated = format(Sys.time(), "%Y-%m-%d"))
writeLines(toJSON(list(meta = meta, datasets = sets, cases = cases), auto_unbox = TRUE, digits = NA,
                  na = "null", dataframe = "columns"),
           "tests/reference/golden_tables.json")
cat("wrote golden_tables.json\n")
