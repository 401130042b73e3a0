/** Small DOM helpers: build elements without innerHTML (no markup injection from data). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  for (const c of children) e.append(c)
  return e
}

const SVG = 'http://www.w3.org/2000/svg'

export function svg(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  return e
}

export const kw = (w: number): string => `${(w / 1000).toFixed(1)} kW`
export const kwh = (wh: number): string => `${(wh / 1000).toFixed(2)} kWh`
export const time = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '))

export const STATUS_COLOURS: Record<string, string> = { available: '#22c55e', charging: '#3b82f6', faulted: '#ef4444', disabled: '#a855f7', offline: '#64748b' }
