// Marks the page as scripted before it is drawn, as GOV.UK Frontend expects. An external file,
// not an inline script, because the Content-Security-Policy allows no inline script.
document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
