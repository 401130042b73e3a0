/**
 * The largest MQTT packet the hub takes, in bytes (1 MiB), whichever broker it
 * runs on:
 *
 * - the embedded broker refuses a bigger one and disconnects its sender
 *   (./embedded-broker.ts);
 * - `voltway hub acl` writes it as Mosquitto's `max_packet_size`, which does
 *   the same for every client of that broker (./mosquitto-acl.ts);
 * - the hub's own connection announces it as its MQTT 5 Maximum Packet Size,
 *   so a broker never sends the hub a bigger packet but discards it as if
 *   delivered [MQTT-3.1.2-24, MQTT-3.1.2-25], whatever that broker's own
 *   configuration (hub/app.ts).
 *
 * No message of docs/protocol.md is over 64 KiB (MAX_MESSAGE_BYTES); one
 * between the two still reaches the hub and gets its coded refusal.
 */
export const MAX_PACKET_BYTES = 1024 * 1024
