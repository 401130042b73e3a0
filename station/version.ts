/** Reported in the retained `state` as `agentVersion`. */
export const AGENT_VERSION = '0.1.0'
