/**
 * Node.js flags the agent runs with on a board (the systemd unit passes them).
 * `--lite-mode` turns off V8's optimizing compilers: the agent's work is a few
 * messages a second, and a Pi-class board gains ~20 MB of RSS and a faster
 * start (bench/station-agent.ts: ~93 MB -> ~70 MB peak, ~700 -> ~520 ms to online).
 * A small young generation saves a little more.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--lite-mode', '--max-semi-space-size=1']
