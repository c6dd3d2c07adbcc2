// Shared by the automerge-repo side of bench/peers: argument parsing and
// the text each change appends (the same texts the Outpost side appends).

/** `--name value` pairs from the command line; exits with a clear error. */
export function args(spec) {
  const out = {}
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]
    if (!name.startsWith("--") || !(name.slice(2) in spec)) {
      fail(`unknown argument ${JSON.stringify(name)}; expected ${Object.keys(spec).map(k => "--" + k).join(", ")}`)
    }
    if (i + 1 >= argv.length) fail(`${name} needs a value`)
    out[name.slice(2)] = argv[i + 1]
  }
  for (const [k, required] of Object.entries(spec)) {
    if (required && out[k] === undefined) fail(`--${k} is required`)
  }
  return out
}

export function fail(message) {
  console.error(`error: ${message}`)
  process.exit(1)
}

/** A positive integer argument. */
export function count(value, name) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, not ${JSON.stringify(value)}`)
  return n
}

/** The text change `c` of document `d` appends: about 100 characters. */
export function changeText(d, c) {
  const head = `doc ${d} change ${c} `
  return head + "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore".slice(0, 99 - head.length) + "\n"
}
