// Lists a room's participants with the official Node server SDK (livekit-server-sdk) and prints
// their identities as a JSON array. Usage: node list_participants.mjs ROOM
// Reads LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment.
import { RoomServiceClient } from 'livekit-server-sdk';

const room = process.argv[2];
const host = process.env.LIVEKIT_URL.replace(/^ws/, 'http');
const client = new RoomServiceClient(host, process.env.LIVEKIT_API_KEY, process.env.LIVEKIT_API_SECRET);
const participants = await client.listParticipants(room);
console.log(JSON.stringify(participants.map((p) => p.identity).sort()));
