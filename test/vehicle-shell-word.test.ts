/**
 * The request id a TIMEOUT hint prints for a repeat is one shell word: a
 * shell reads it back as the id that was sent, whatever it holds.
 */
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { shellWord } from '../vehicle-sim/commands/common.js'

t.test('shellWord: a plain id is left as it is; any other is single-quoted, and /bin/sh reads every one back unchanged', async (t) => {
  t.equal(shellWord('r-1700000000000-ab12'), 'r-1700000000000-ab12')
  t.equal(shellWord('a=b'), 'a=b', '= inside a word is plain in every shell')
  t.equal(shellWord('=ls'), "'=ls'", 'zsh expands a leading = to a command path')
  t.equal(shellWord("it's"), "'it'\\''s'")
  const ids = ['plain-id', '=ls', '~root', '-x1', '--help', 'a b', "it's", '$HOME', '`id`', '$(id)', '!!', '{a,b}', 'a*b', 'ação', 'a\\b', '"q"', '#hash', 'a;b', 'a|b', 'a&b', '<in', 'x>y']
  for (const id of ids) {
    const echoed = execFileSync('/bin/sh', ['-c', `printf %s ${shellWord(id)}`], { encoding: 'utf8' })
    t.equal(echoed, id, `${JSON.stringify(id)} as ${shellWord(id)}`)
  }
})
