// @ts-check
// #/signin: sign in, or create an account and be signed in; then back to the page that asked.

import { signIn, signUp } from "../api.js";
import { clientConfig } from "../config.js";
import { announce, h } from "../dom.js";
import { errorBox, title, updateSessionLink } from "../ui.js";

/** @typedef {import("../router.js").Show} Show */

// A labelled input; ``form`` keeps the ids of two forms' same-named fields apart.
/**
 * @param {string} form
 * @param {string} label
 * @param {Record<string, string | number | boolean> & {name: string}} attributes
 */
function field(form, label, attributes) {
  const id = `${form}-${attributes.name}`;
  return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, ...attributes }));
}

/**
 * @param {URLSearchParams} params
 * @param {Show} show
 */
export async function signInView(params, show) {
  const limits = (await clientConfig()).text_limits;
  const next = params.get("next") || "#/tokens";
  const status = h("div");
  /**
   * @param {SubmitEvent} event
   * @param {(data: FormData) => Promise<void>} action
   */
  const go = async (event, action) => {
    event.preventDefault();
    const form = /** @type {HTMLFormElement} */ (event.currentTarget);
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    status.replaceChildren();
    try {
      await action(new FormData(form));
      updateSessionLink();
      announce("Signed in.");
      location.hash = next;
    } catch (error) {
      status.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  };
  const text = (/** @type {FormData} */ data, /** @type {string} */ name) => String(data.get(name) || "");
  const email = { name: "email", type: "email", required: true, maxlength: limits.email_max };
  const signInForm = h(
    "form",
    { class: "card", "aria-labelledby": "signin-heading" },
    h("h2", { id: "signin-heading" }, "Sign in"),
    field("signin", "Email", { ...email, autocomplete: "username" }),
    field("signin", "Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  signInForm.addEventListener("submit", (event) =>
    go(event, (data) => signIn(text(data, "email"), text(data, "password"))),
  );
  const signUpForm = h(
    "form",
    { class: "card", "aria-labelledby": "signup-heading" },
    h("h2", { id: "signup-heading" }, "New here? Create an account"),
    field("signup", "Your name", { name: "display_name", autocomplete: "nickname", required: true, maxlength: limits.display_name_max }),
    field("signup", "Email", { ...email, autocomplete: "email" }),
    field("signup", `Password (at least ${limits.password_min} characters)`, {
      name: "password",
      type: "password",
      autocomplete: "new-password",
      required: true,
      minlength: limits.password_min,
      maxlength: limits.password_max,
    }),
    h("button", { type: "submit" }, "Create account"),
  );
  signUpForm.addEventListener("submit", (event) =>
    go(event, (data) => signUp(text(data, "display_name"), text(data, "email"), text(data, "password"))),
  );
  show(title("Sign in"), status, h("div", { class: "two-columns" }, signInForm, signUpForm));
}
