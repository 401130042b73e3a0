// The test suite's reporter: one line per test file, every failing
// assertion with its TAP diagnostics, and a closing "N passed, N failed"
// line. Written for logs (CI, `npm test > file`): no terminal redrawing, so
// the output grows with the number of files, not with each assertion. tap
// pipes its TAP stream through an instance of the default export (tap's
// "Stream class" reporter form: TAP in, text out); tap-parser reads it.
import { Transform } from 'node:stream'
import { Parser } from 'tap-parser'

export default class LogReporter extends Transform {
  #parser
  #files = { passed: 0, failed: 0 }
  #asserts = { passed: 0, failed: 0, skipped: 0 }
  #started = Date.now()

  constructor() {
    super({ decodeStrings: false })
    this.#parser = new Parser({ bail: false, passes: false })
    this.#parser.on('child', (file) => this.#onFile(file))
    this.#parser.on('complete', () => this.#onComplete())
  }

  #onFile(file) {
    const failures = []
    this.#track(file, failures)
    file.on('complete', (r) => {
      const name = file.name.replace(/^Subtest: /, '')
      const secs = typeof r.time === 'number' ? ` ${(r.time / 1000).toFixed(1)}s` : ''
      if (r.ok) {
        this.#files.passed++
        this.#out(`ok    ${name}${secs}`)
        return
      }
      this.#files.failed++
      this.#out(`FAIL  ${name}${secs}`)
      for (const f of failures.length > 0 ? failures : r.failures) this.#out(indent(describe(f)))
    })
  }

  /** Count the leaf assertions of a parser and its subtests; keep the failing ones. */
  #track(parser, failures) {
    const subtests = new Set()
    parser.on('child', (child) => {
      subtests.add(child.name.replace(/^Subtest: /, ''))
      this.#track(child, failures)
    })
    parser.on('assert', (a) => {
      if (subtests.has(a.name)) return // a subtest's own summary point
      if (a.skip || a.todo) this.#asserts.skipped++
      else if (a.ok) this.#asserts.passed++
      else {
        this.#asserts.failed++
        failures.push(a)
      }
    })
  }

  #onComplete() {
    const secs = ((Date.now() - this.#started) / 1000).toFixed(0)
    const { passed, failed, skipped } = this.#asserts
    this.#out('')
    this.#out(`test files: ${this.#files.passed} passed, ${this.#files.failed} failed, in ${secs}s`)
    this.#out(`assertions: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  }

  #out(line) {
    this.push(`${line}\n`)
  }

  _transform(chunk, _enc, cb) {
    this.#parser.write(chunk)
    cb()
  }

  _flush(cb) {
    this.#parser.end()
    cb()
  }
}

function describe(a) {
  const lines = [`not ok - ${a.fullname || a.name || '(unnamed)'}`]
  for (const [key, value] of Object.entries(a.diag ?? {})) {
    // Multi-line strings (diff, stack, source) as blocks, the rest as JSON on one line.
    const text = typeof value === 'string' && value.includes('\n') ? `|\n${indent(value.trimEnd(), '  ')}` : JSON.stringify(value)
    lines.push(`${key}: ${text.length > 6000 ? `${text.slice(0, 6000)}...` : text}`)
  }
  return lines.join('\n')
}

const indent = (s, by = '      ') => s.replace(/^/gm, by)
