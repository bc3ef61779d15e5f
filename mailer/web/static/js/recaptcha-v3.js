// reCAPTCHA v3 has no widget: ask for a fresh token when the form is submitted,
// put it in the hidden field, then submit for real. Tokens expire after two minutes.
for (const field of document.querySelectorAll("input[data-recaptcha-v3]")) {
  const form = field.form;
  if (!form) continue;
  form.addEventListener("submit", (event) => {
    if (field.dataset.filled === "yes") return;
    event.preventDefault();
    grecaptcha.ready(() => {
      grecaptcha
        .execute(field.dataset.sitekey, { action: field.dataset.action })
        .then((token) => {
          field.value = token;
          field.dataset.filled = "yes";
          form.requestSubmit(event.submitter || undefined);
        });
    });
  });
}
