// What the page loads once and every module reads: the map, its style, the
// taxonomy and /health. Live bindings, set by app.js before any use.

export let map;
export let style;
export let categories;
export let categoryById;
export let groupById;
export let catalogue;
export let health;

export function setContext(values) {
  ({ map, style, categories, categoryById, groupById, catalogue, health } = values);
}

/** The rows of the last « Manques » analysis shown (gaps.js writes them;
 * the panel reads a QPV's walking figures there). */
export const lastAnalysis = { rows: [], minutes: null };
