// « Exporter l'image (PNG) »: the current view composed with a title, the
// legend, a scale bar, the north, the sources and the data's dates, at the
// screen's size or A4 landscape at 300 dpi. The map is drawn again, off
// screen, at that size (MapLibre's pixel ratio), so print sizes stay sharp.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { $, fmt, frenchDate } from './util.js';
import { state } from './state.js';
import { map, categories, health } from './context.js';

/** Pixels of each size; A4 landscape at 300 dpi. */
const SIZES = {
  ecran: () => {
    const box = map.getContainer();
    const ratio = window.devicePixelRatio || 1;
    return { width: Math.round(box.clientWidth * ratio), height: Math.round(box.clientHeight * ratio) };
  },
  a4: () => ({ width: 3508, height: 2480 }),
};

/** Renders the current view off screen: a canvas of `width` × `height` device pixels. */
async function renderMap(width, height, ratio) {
  const box = document.createElement('div');
  Object.assign(box.style, { position: 'fixed', left: '-20000px', top: '0', width: `${width / ratio}px`, height: `${height / ratio}px` });
  document.body.append(box);
  const shot = new maplibregl.Map({
    container: box, style: map.getStyle(), center: map.getCenter(), zoom: map.getZoom(),
    bearing: map.getBearing(), pitch: map.getPitch(), interactive: false, attributionControl: false,
    pixelRatio: ratio, preserveDrawingBuffer: true, fadeDuration: 0,
  });
  await new Promise((resolve) => shot.once('idle', resolve));
  return { canvas: shot.getCanvas(), done: () => { shot.remove(); box.remove(); } };
}

/** A round length for the scale bar, metres, at most `max`. */
const roundLength = (max) => [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000]
  .filter((m) => m <= max).pop() ?? 10;

/** Lines of `text` no wider than `max` in the context's font, cut at spaces. */
function wrap(g, text, max) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && g.measureText(next).width > max) { lines.push(line); line = word; } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** The title (up to two lines, never cut), drawn from `top`; its height. */
function titleBlock(g, u, width, font, draw) {
  const where = state.qpv ? ` — ${$('quartier-nom').textContent}` : '';
  const what = state.mode === 'manques' ? 'Manques : quartiers sans initiative proche' : 'Initiatives de l’ESS et quartiers prioritaires';
  const max = width - 28 * u;
  // The largest size that holds it on one line, down to 16; else two lines or more.
  let size = 22;
  g.font = font(size, 'bold');
  while (size > 16 && g.measureText(`${what}${where}`).width > max) g.font = font(--size, 'bold');
  const lines = wrap(g, `${what}${where}`, max);
  const lineHeight = Math.round(size * 1.3 * u);
  if (draw) {
    g.fillStyle = '#1d1d1d';
    g.textBaseline = 'middle';
    g.textAlign = 'left';
    lines.forEach((l, i) => g.fillText(l, 14 * u, 12 * u + lineHeight * (i + 0.5)));
  }
  return Math.round(24 * u + lineHeight * lines.length);
}

/** The legend (colours, categories, symbols) and the sources with their
 * dates, every line whole, drawn from `top`; the height they take. */
function bottomBlock(g, u, width, top, font, draw) {
  let x = 14 * u;
  let ly = top + 20 * u;
  g.textBaseline = 'middle';
  g.textAlign = 'left';
  g.font = font(12, 'bold');
  if (draw) { g.fillStyle = '#1d1d1d'; g.fillText($('legende-mesure').hidden ? 'Quartiers' : $('legende-mesure').querySelector('legend').textContent, x, ly); }
  g.font = font(11);
  const entry = (kind, colour, text) => {
    const w = g.measureText(text).width + 26 * u;
    if (x + w > width - 10 * u) { x = 14 * u; ly += 18 * u; }
    if (draw) {
      g.fillStyle = colour;
      g.strokeStyle = colour;
      g.lineWidth = 2.5 * u;
      const cx = x + 6 * u;
      if (kind === 'box') g.fillRect(x, ly - 6 * u, 14 * u, 12 * u);
      else if (kind === 'dot') { g.beginPath(); g.arc(cx, ly, 6 * u, 0, 2 * Math.PI); g.fill(); }
      else if (kind === 'ring' || kind === 'marker') {
        g.fillStyle = '#ffffff';
        g.beginPath(); g.arc(cx, ly, 5.5 * u, 0, 2 * Math.PI); g.fill(); g.stroke();
      } else if (kind === 'dash') {
        g.setLineDash([4 * u, 4 * u]); g.beginPath(); g.moveTo(x, ly); g.lineTo(x + 14 * u, ly); g.stroke(); g.setLineDash([]);
      }
      g.fillStyle = '#1d1d1d';
      g.fillText(text, x + 18 * u, ly);
    }
    x += w;
  };
  ly += 18 * u;
  for (const li of document.querySelectorAll('#legende li')) {
    const box = li.querySelector('.box');
    if (box) entry('box', box.style.background, li.textContent.trim());
  }
  x = 14 * u;
  ly += 20 * u;
  const shown = state.categories ?? categories.map((c) => c.id);
  for (const c of categories.filter((c) => shown.includes(c.id))) entry('dot', c.color, c.label);
  x = 14 * u;
  ly += 20 * u;
  entry('dot', '#3b3b3b', 'groupe d’initiatives (nombre)');
  entry('ring', '#35978f', 'placée au centre de sa commune, non comptée');
  entry('marker', '#3f3f3f', 'commune dont des quartiers n’ont pas de contour chargé');
  if (state.qpv) entry('dash', '#c51b1b', `à moins de ${fmt.format(state.radius)} m du quartier choisi`);
  // Sources and dates, whole, on as many lines as they need.
  const dated = (health.datasets ?? []).filter((d) => d.loaded > 0 && d.as_of)
    .map((d) => `${d.title} (${frenchDate(d.as_of)})`);
  g.font = font(9.5);
  const lines = wrap(g, `Sources : ${dated.join(' ; ')}. Carte : ess-map, ${frenchDate(new Date().toISOString().slice(0, 10))}.`, width - 28 * u);
  ly += 12 * u;
  for (const l of lines) {
    ly += 14 * u;
    if (draw) { g.fillStyle = '#525252'; g.fillText(l, 14 * u, ly); }
  }
  return Math.round(ly + 12 * u - top);
}

export async function exportImage(sizeName) {
  const { width, height } = SIZES[sizeName]();
  const u = Math.max(1, width / 1200); // one layout unit: about a CSS pixel on a 1200-wide page
  const font = (size, weight = '') => `${weight} ${Math.round(size * u)}px "DejaVu Sans", sans-serif`;
  // Measured first, so that the map gets what the title and legend leave.
  const measure = document.createElement('canvas').getContext('2d');
  const titleBand = titleBlock(measure, u, width, font, false);
  const legendBand = bottomBlock(measure, u, width, 0, font, false);
  const mapHeight = height - titleBand - legendBand;
  const ratio = Math.max(1, width / map.getContainer().clientWidth);
  const { canvas: drawn, done } = await renderMap(width, mapHeight, ratio);
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const g = out.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, height);
  g.drawImage(drawn, 0, titleBand, width, mapHeight);
  done();
  titleBlock(g, u, width, font, true);
  // North, rotated with the map.
  g.save();
  g.translate(width - 40 * u, titleBand + 46 * u);
  g.rotate((-map.getBearing() * Math.PI) / 180);
  g.fillStyle = 'rgba(255,255,255,.85)';
  g.beginPath(); g.arc(0, 0, 24 * u, 0, 2 * Math.PI); g.fill();
  g.fillStyle = '#1d1d1d';
  g.beginPath(); g.moveTo(0, -18 * u); g.lineTo(9 * u, 6 * u); g.lineTo(0, 1 * u); g.lineTo(-9 * u, 6 * u); g.closePath(); g.fill();
  g.font = font(12, 'bold');
  g.textAlign = 'center';
  g.fillText('N', 0, 15 * u);
  g.restore();
  // Scale bar: MapLibre's 512-pixel tiles, at the view's latitude.
  const metresPerPixel = (40_075_016.686 * Math.cos((map.getCenter().lat * Math.PI) / 180)) / (512 * 2 ** map.getZoom()) / (width / map.getContainer().clientWidth);
  const length = roundLength((width / 5) * metresPerPixel);
  const bar = length / metresPerPixel;
  const y = titleBand + mapHeight - 22 * u;
  g.fillStyle = 'rgba(255,255,255,.85)';
  g.fillRect(10 * u, y - 22 * u, bar + 24 * u, 32 * u);
  g.strokeStyle = '#1d1d1d';
  g.lineWidth = 3 * u;
  g.beginPath(); g.moveTo(22 * u, y); g.lineTo(22 * u + bar, y); g.stroke();
  g.fillStyle = '#1d1d1d';
  g.font = font(12);
  g.textAlign = 'left';
  g.textBaseline = 'middle';
  g.fillText(length >= 1000 ? `${fmt.format(length / 1000)} km` : `${fmt.format(length)} m`, 22 * u, y - 11 * u);
  bottomBlock(g, u, width, titleBand + mapHeight, font, true);
  const blob = await new Promise((resolve) => out.toBlob(resolve, 'image/png'));
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `carte-ess-qpv-${sizeName === 'a4' ? 'a4-300dpi' : 'ecran'}.png`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return { width, height };
}

export function buildImageExport() {
  $('image-exporter').addEventListener('click', async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    $('image-etat').textContent = 'Image en préparation…';
    try {
      const { width, height } = await exportImage($('image-taille').value);
      $('image-etat').textContent = `Image de ${fmt.format(width)} × ${fmt.format(height)} pixels téléchargée.`;
    } catch (err) {
      $('image-etat').textContent = `Échec de l’image : ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
}
