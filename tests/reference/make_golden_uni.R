# Golden values for rlmeta's effect sizes and univariate models, from metafor.
#
# Run from the repository root (needs Debian's r-cran-metafor and r-cran-jsonlite):
#   Rscript tests/reference/make_golden_uni.R
# Writes tests/reference/golden_escalc.json and tests/reference/golden_rma.json.
# The test suite only reads the JSON; it never needs R.
#
# Every input is written into the JSON next to the expected values, so the Python
# tests feed rlmeta exactly what metafor saw.  metafor is run with its default
# control settings (the numbers a metafor user sees).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_dir <- "tests/reference"
meta <- list(
  metafor_version = as.character(packageVersion("metafor")),
  r_version = R.version.string,
  generated = format(Sys.time(), "%Y-%m-%d")
)
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

# ------------------------------------------------------------------ escalc
set.seed(20261121)
n <- 40
cont <- data.frame(
  m1 = round(rnorm(n, 10, 3), 3), m2 = round(rnorm(n, 9, 3), 3),
  sd1 = round(runif(n, 0.5, 4), 3), sd2 = round(runif(n, 0.5, 4), 3),
  n1 = sample(2:300, n, TRUE), n2 = sample(2:300, n, TRUE),
  r = round(runif(n, -0.5, 0.95), 3),
  t = round(rnorm(n, 1, 2), 3)
)
cont$m1[1:3] <- c(5, 0.1, 12); cont$m2[1:3] <- c(5, 0.2, 3)
cont$n1[1:2] <- c(2, 3); cont$n2[1:2] <- c(2, 2)
pos <- cont; pos$m1 <- abs(pos$m1) + 0.5; pos$m2 <- abs(pos$m2) + 0.5

props <- data.frame(
  p1 = c(round(runif(n - 6, 0, 1), 3), 0, 1, 0, 0.5, 1, 0.02),
  p2 = c(round(runif(n - 6, 0, 1), 3), 0.3, 0.9, 0, 0.5, 1, 0),
  n = c(sample(10:5000, n - 6, TRUE), 30, 40, 25, 1, 12, 500)
)
props$n2 <- props$n
props$n2[1:5] <- props$n[1:5] + 7
ai <- props$p1 * props$n; ci <- props$p2 * props$n2

esc <- list()
for (m in c("MD", "SMD", "SMDH")) {
  e <- escalc(m, m1i = m1, m2i = m2, sd1i = sd1, sd2i = sd2, n1i = n1, n2i = n2, data = cont)
  esc[[m]] <- list(input = cont, yi = num(e$yi), vi = num(e$vi))
}
e <- escalc("ROM", m1i = m1, m2i = m2, sd1i = sd1, sd2i = sd2, n1i = n1, n2i = n2, data = pos)
esc[["ROM"]] <- list(input = pos, yi = num(e$yi), vi = num(e$vi))
e <- escalc("SMD", ti = t, n1i = n1, n2i = n2, data = cont)
esc[["SMD_from_t"]] <- list(input = cont, yi = num(e$yi), vi = num(e$vi))
for (m in c("MC", "SMCC", "SMCR")) {
  e <- escalc(m, m1i = m1, m2i = m2, sd1i = sd1, sd2i = sd2, ni = n1, ri = r, data = cont)
  esc[[m]] <- list(input = cont, yi = num(e$yi), vi = num(e$vi))
}
for (m in c("RD", "OR", "RR", "AS")) {
  e <- escalc(m, ai = ai, bi = props$n - ai, ci = ci, di = props$n2 - ci)
  esc[[m]] <- list(input = props, yi = num(e$yi), vi = num(e$vi))
}
e <- escalc("OR", ai = ai, bi = props$n - ai, ci = ci, di = props$n2 - ci, to = "all")
esc[["OR_to_all"]] <- list(input = props, yi = num(e$yi), vi = num(e$vi))
e <- escalc("RR", ai = ai, bi = props$n - ai, ci = ci, di = props$n2 - ci, to = "none")
esc[["RR_to_none"]] <- list(input = props, yi = num(e$yi), vi = num(e$vi))
# published datasets
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
nrm <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
nrm_md <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
esc[["normand_SMD"]] <- list(input = dat.normand1999[, c("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")],
                             yi = num(nrm$yi), vi = num(nrm$vi))
esc[["normand_MD"]] <- list(input = dat.normand1999[, c("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")],
                            yi = num(nrm_md$yi), vi = num(nrm_md$vi))
esc[["bcg_RR"]] <- list(input = dat.bcg[, c("tpos", "tneg", "cpos", "cneg")], yi = num(bcg$yi), vi = num(bcg$vi))
write_json(list(meta = meta, escalc = esc), file.path(out_dir, "golden_escalc.json"),
           digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE)

# ------------------------------------------------------------------ rma.uni
gen <- function(k, tau2, seed, huge = FALSE) {
  set.seed(seed)
  vi <- runif(k, 0.005, 0.3)
  if (huge) vi[1] <- 1e4
  yi <- rnorm(k, 0.3, sqrt(vi + tau2))
  x1 <- round(rnorm(k), 3)
  g <- sample(c("a", "b", "c"), k, TRUE)
  g[1:min(3, k)] <- c("a", "b", "c")[1:min(3, k)]
  data.frame(yi = yi, vi = vi, x1 = x1, g = g, w = round(runif(k, 1, 10), 2))
}
datasets <- list(
  bcg = data.frame(yi = num(bcg$yi), vi = num(bcg$vi), x1 = dat.bcg$ablat, year = dat.bcg$year,
                   g = dat.bcg$alloc, w = dat.bcg$tpos + dat.bcg$tneg + dat.bcg$cpos + dat.bcg$cneg),
  normand = data.frame(yi = num(nrm$yi), vi = num(nrm$vi), x1 = seq_len(nrow(nrm)),
                       g = rep(c("a", "b", "c"), length.out = nrow(nrm)), w = nrm$n1i + nrm$n2i),
  k2 = gen(2, 0.1, 1),
  k3 = gen(3, 0.05, 2),
  k5_tiny = gen(5, 1e-5, 3),
  k10 = gen(10, 0.2, 4),
  k20_huge_tau = gen(20, 25, 5),
  k50 = gen(50, 0.02, 6),
  k200 = gen(200, 0.1, 7),
  k12_hugevar = gen(12, 0.1, 8, huge = TRUE)
)
methods <- c("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ")
tests <- c("z", "t", "knha", "adhoc")

fitinfo <- function(res, newmods = NULL) {
  o <- list(
    beta = num(res$beta), se = num(res$se), zval = num(res$zval), pval = num(res$pval),
    ci_lb = num(res$ci.lb), ci_ub = num(res$ci.ub), tau2 = num(res$tau2), se_tau2 = num(res$se.tau2),
    I2 = num(res$I2), H2 = num(res$H2), QE = num(res$QE), QEp = num(res$QEp), QM = num(res$QM),
    QMp = num(res$QMp), QMdf = num(res$QMdf), ddf = num(res$ddf), k = res$k, p = res$p,
    fit_ML = num(res$fit.stats$ML), fit_REML = num(res$fit.stats$REML),
    R2 = if (is.null(res$R2)) NA else num(res$R2)
  )
  pr <- if (is.null(newmods)) predict(res) else predict(res, newmods = newmods)
  o$pred <- num(pr$pred); o$pred_se <- num(pr$se); o$ci_pred_lb <- num(pr$ci.lb); o$ci_pred_ub <- num(pr$ci.ub)
  o$pi_lb <- if (is.null(pr$pi.lb)) NA else num(pr$pi.lb)
  o$pi_ub <- if (is.null(pr$pi.ub)) NA else num(pr$pi.ub)
  if (!is.element(res$method, c("EE", "FE")) && res$k > res$p + 0) {
    ci <- try(confint(res), silent = TRUE)
    if (!inherits(ci, "try-error")) {
      rr <- ci$random
      o$tau2_ci <- num(rr["tau^2", 2:3]); o$I2_ci <- num(rr["I^2(%)", 2:3]); o$H2_ci <- num(rr["H^2", 2:3])
    }
  }
  o
}

cases <- list()
for (dn in names(datasets)) {
  d <- datasets[[dn]]
  for (m in methods) for (tt in tests) {
    args <- list(yi = d$yi, vi = d$vi, method = m, test = tt)
    if (m == "GENQ") args$weights <- d$w
    res <- try(suppressWarnings(do.call(rma, args)), silent = TRUE)
    key <- paste(dn, m, tt, sep = "|")
    if (inherits(res, "try-error")) {
      cases[[key]] <- list(dataset = dn, method = m, test = tt, mods = NULL, error = as.character(res))
    } else {
      cases[[key]] <- c(list(dataset = dn, method = m, test = tt, mods = NULL), fitinfo(res))
    }
  }
}

# meta-regression (formulas written in rlmeta's syntax next to metafor's)
regs <- list(
  list(dataset = "bcg", r = ~ x1, py = "~ x1", newmods = c(10, 30, 50), newdata = list(x1 = c(10, 30, 50))),
  list(dataset = "bcg", r = ~ x1 + year, py = "~ x1 + year", newmods = rbind(c(20, 1960), c(40, 1975)),
       newdata = list(x1 = c(20, 40), year = c(1960, 1975))),
  list(dataset = "bcg", r = ~ factor(g), py = "~ C(g)", newmods = rbind(c(0, 0), c(1, 0), c(0, 1)),
       newdata = list(g = c("alternate", "random", "systematic"))),
  list(dataset = "bcg", r = ~ x1 * factor(g), py = "~ x1 * C(g)", newmods = NULL, newdata = NULL),
  list(dataset = "k50", r = ~ x1 + factor(g), py = "~ x1 + C(g)", newmods = NULL, newdata = NULL),
  list(dataset = "k50", r = ~ x1 * factor(g), py = "~ x1 * C(g)", newmods = NULL, newdata = NULL),
  list(dataset = "k200", r = ~ x1:factor(g), py = "~ x1:C(g)", newmods = NULL, newdata = NULL),
  list(dataset = "k20_huge_tau", r = ~ x1, py = "~ x1", newmods = NULL, newdata = NULL)
)
for (i in seq_along(regs)) {
  rg <- regs[[i]]
  d <- datasets[[rg$dataset]]
  for (m in c("EE", "DL", "ML", "REML", "PM", "SJ", "EB", "HE")) for (tt in c("z", "knha")) {
    res <- try(suppressWarnings(rma(yi, vi, mods = rg$r, data = d, method = m, test = tt)), silent = TRUE)
    key <- paste("reg", i, m, tt, sep = "|")
    if (inherits(res, "try-error")) next
    info <- fitinfo(res, newmods = rg$newmods)
    cases[[key]] <- c(list(dataset = rg$dataset, method = m, test = tt, mods = rg$py,
                           newdata = rg$newdata, coef_names = rownames(res$beta)), info)
  }
}

# btt subset, Wald tests of linear combinations, LRT
res_full <- rma(yi, vi, mods = ~ x1 + year, data = datasets$bcg)
btt2 <- anova(res_full, btt = 2)
lc <- anova(res_full, X = rbind(c(0, 1, 0), c(0, 1, -1), c(1, 20, 1970)))
res_ml1 <- rma(yi, vi, mods = ~ x1, data = datasets$bcg, method = "ML")
res_ml0 <- rma(yi, vi, data = datasets$bcg, method = "ML")
lrt <- anova(res_ml1, res_ml0)
res_knha <- rma(yi, vi, mods = ~ x1 + year, data = datasets$bcg, test = "knha")
lc_knha <- anova(res_knha, X = rbind(c(0, 1, 0), c(0, 1, -1)))
extra <- list(
  btt = list(QM = btt2$QM, QMp = btt2$QMp),
  lincomb = list(L = rbind(c(0, 1, 0), c(0, 1, -1), c(1, 20, 1970)), est = num(lc$Xb), se = num(lc$se),
                 zval = num(lc$zval), pval = num(lc$pval), QM = lc$QM, QMp = lc$QMp),
  lincomb_knha = list(L = rbind(c(0, 1, 0), c(0, 1, -1)), est = num(lc_knha$Xb), se = num(lc_knha$se),
                      tval = num(lc_knha$zval), pval = num(lc_knha$pval), QM = lc_knha$QM, QMp = lc_knha$QMp),
  lrt = list(LRT = lrt$LRT, pval = lrt$pval, AIC_full = lrt$fit.stats.f[["AIC"]],
             AIC_reduced = lrt$fit.stats.r[["AIC"]], R2 = lrt$R2)
)
# BLUPs and residuals (bcg, REML)
r0 <- rma(yi, vi, data = datasets$bcg)
bl <- blup(r0)
rs <- rstandard(r0)
rt <- rstudent(r0)
extra$blup <- list(pred = num(bl$pred), se = num(bl$se), pi_lb = num(bl$pi.lb), pi_ub = num(bl$pi.ub))
extra$rstandard <- list(resid = num(rs$resid), se = num(rs$se), z = num(rs$z))
extra$rstudent <- list(resid = num(rt$resid), se = num(rt$se), z = num(rt$z))
r1 <- rma(yi, vi, mods = ~ x1, data = datasets$bcg, test = "knha")
rt1 <- rstudent(r1)
extra$rstudent_reg <- list(resid = num(rt1$resid), se = num(rt1$se), z = num(rt1$z))
extra$weights <- num(weights(r0))
extra$hat <- num(hatvalues(r1))

# subgroups: separate models per level and the mixed-effects (common tau2) model
sub <- list()
for (lev in sort(unique(datasets$bcg$g))) {
  s <- rma(yi, vi, data = datasets$bcg, subset = g == lev)
  sub[[lev]] <- list(beta = num(s$beta), se = num(s$se), tau2 = num(s$tau2), k = s$k, QE = s$QE, I2 = s$I2)
}
mix <- rma(yi, vi, mods = ~ factor(g), data = datasets$bcg)
extra$subgroup <- list(separate = sub, common_QM = mix$QM, common_QMp = mix$QMp, common_tau2 = mix$tau2)

# edge cases
edge <- list()
e1 <- suppressWarnings(rma(yi = 0.4, vi = 0.02))
edge$k1 <- list(yi = 0.4, vi = 0.02, beta = num(e1$beta), se = num(e1$se), tau2 = e1$tau2)
eq <- rma(yi = rep(0.2, 6), vi = c(0.01, 0.02, 0.03, 0.01, 0.05, 0.02))
edge$all_equal <- list(yi = rep(0.2, 6), vi = c(0.01, 0.02, 0.03, 0.01, 0.05, 0.02), beta = num(eq$beta),
                       se = num(eq$se), tau2 = eq$tau2, QE = eq$QE, I2 = eq$I2)
z0 <- suppressWarnings(rma(yi = c(0.1, 0.5, 0.3, 0.9), vi = c(0, 0.02, 0.03, 0.04)))
edge$vi_zero <- list(yi = c(0.1, 0.5, 0.3, 0.9), vi = c(0, 0.02, 0.03, 0.04), beta = num(z0$beta),
                     se = num(z0$se), tau2 = z0$tau2)
co <- suppressWarnings(rma(yi, vi, mods = cbind(x1, x1 * 2), data = datasets$bcg))
edge$collinear <- list(beta = num(co$beta), se = num(co$se), tau2 = co$tau2)
na <- suppressWarnings(rma(yi = c(0.1, NA, 0.3, 0.9, 0.4), vi = c(0.01, 0.02, NA, 0.04, 0.02)))
edge$nan <- list(yi = c(0.1, NA, 0.3, 0.9, 0.4), vi = c(0.01, 0.02, NA, 0.04, 0.02), k = na$k,
                 beta = num(na$beta), tau2 = na$tau2)
extra$edge <- edge

write_json(list(meta = meta, datasets = datasets, cases = cases, extra = extra),
           file.path(out_dir, "golden_rma.json"), digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE)
cat("wrote golden_escalc.json and golden_rma.json with", length(cases), "model cases\n")
