/**
 * The largest MQTT packet the hub takes, in bytes (1 MiB), whichever broker it
 * runs on:
 *
 * - the embedded broker refuses a bigger one from a client and disconnects it
 *   (./embedded-broker.ts);
 * - the hub's own connections to an external broker announce it as their
 *   MQTT 5 Maximum Packet Size, so the broker never sends the hub a bigger
 *   packet but discards it as if delivered [MQTT-3.1.2-24, MQTT-3.1.2-25],
 *   whatever that broker's own configuration (hub/app.ts).
 *
 * It bounds what the hub receives only. No message a station or vehicle sends
 * is over 64 KiB (MAX_MESSAGE_BYTES; one between the two still gets its coded
 * refusal), but the hub's own answers can be larger (`station.list` of a hub
 * with 8,000 stations is 1.35 MB): that is why `voltway hub acl` does not set
 * Mosquitto's `max_packet_size`, which bounds every client's packets, the
 * hub's included (docs/operator-guide.md section 5).
 */
export const MAX_PACKET_BYTES = 1024 * 1024
