// Building the page from untrusted data: nodes are made with createElement and filled with text
// only, never parsed as HTML, so a message such as `<img onerror=...>` shows as those characters.

export const byId = (id) => document.getElementById(id);

// createElement with text children only: strings become text nodes, never markup.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}
