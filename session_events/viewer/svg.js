// SVG drawn by the page itself (no library, no build step): nodes made with createElementNS and
// filled with text only, like dom.js does for HTML, since type names come from producers.

const NS = "http://www.w3.org/2000/svg";

export function svgEl(tag, attributes = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// A chart's frame: an <svg role="img"> named by its <title> and described by its <desc>, its
// viewBox `width` x `height` scaled to the width of its container.
export function chartFrame(id, title, description, width, height) {
  return svgEl(
    "svg",
    {
      id,
      class: "chart",
      role: "img",
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: "xMinYMin meet",
      "aria-labelledby": `${id}-title ${id}-desc`,
    },
    svgEl("title", { id: `${id}-title` }, title),
    svgEl("desc", { id: `${id}-desc` }, description),
  );
}

// A hover text (<title>) for a mark; screen readers read it too.
export const tip = (text) => svgEl("title", {}, text);
