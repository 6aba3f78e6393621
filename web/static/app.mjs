// GOV.UK Frontend's behaviour (error summary focus, double-click prevention), from the pinned
// npm package served under /assets. The pages work without it.
import { initAll } from "/assets/govuk-frontend.min.js";

initAll();
