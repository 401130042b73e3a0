/** How every `voltway` command's --help reads: required options say `(required)`, defaults read `(default: ...)`. */
import { Help, type Option } from 'commander'

/** commander's own option description, plus `(required)` for a mandatory option (commander leaves it unmarked). */
export function markRequired(option: Option): string {
  const text = Help.prototype.optionDescription.call(new Help(), option)
  return option.mandatory ? `${text} (required)` : text
}
