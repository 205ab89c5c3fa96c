//! The dashboard page: HTML, CSS and JS embedded in the binary and served as one document (so
//! `/?token=T` is the only URL a browser needs).

const HTML: &str = include_str!("../assets/index.html");
const CSS: &str = include_str!("../assets/style.css");
const JS: &str = include_str!("../assets/app.js");

/// The page with its style and script inlined.
pub(crate) fn index_html() -> String {
    HTML.replace("/*STYLE*/", CSS).replace("/*SCRIPT*/", JS)
}
