/**
 * An e2e spec's hooks start whole apps, simulators and clients; on the 2-core
 * CI machine under load that can outlast Jest's 5 s default (seen: a
 * beforeAll starting an app, three organisations and three MCP clients). A
 * spec that needs longer still sets its own at the top.
 */
jest.setTimeout(30_000);
