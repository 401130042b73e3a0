/** `/ui/metrics`: the figures of `/metrics`, as bars per label set, refreshed every 5 s. */
import { getJson } from '../api.js'
import { el } from '../dom.js'

interface Metric {
  name: string
  help: string
  type: string
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>
}

export async function metricsPage(root: HTMLElement): Promise<() => void> {
  const draw = async (): Promise<void> => {
    const { metrics } = await getJson<{ metrics: Metric[] }>('/ui/api/metrics')
    const blocks = metrics.map((m) => {
      const values = m.values.filter((v) => m.type !== 'histogram' || v.metricName?.endsWith('_count') || v.metricName?.endsWith('_sum'))
      const max = Math.max(1, ...values.map((v) => Math.abs(v.value)))
      const rows = values.map((v) => {
        const labels = Object.entries(v.labels).filter(([k]) => k !== 'hub').map(([k, x]) => `${k}=${x}`).join(' ')
        return el('div', { class: 'bar-row' }, el('span', { class: 'bar-label' }, `${v.metricName ?? m.name} ${labels}`), el('span', { class: 'bar', style: `width:${(Math.abs(v.value) / max) * 60}%` }), el('span', {}, String(Math.round(v.value * 1000) / 1000)))
      })
      return el('article', { 'data-metric': m.name }, el('h3', {}, m.name), el('p', { class: 'help' }, m.help), ...rows)
    })
    root.replaceChildren(el('section', { class: 'metrics' }, el('h1', {}, 'Metrics'), ...blocks))
  }
  await draw()
  const timer = setInterval(() => void draw().catch(() => undefined), 5000)
  return () => clearInterval(timer)
}
