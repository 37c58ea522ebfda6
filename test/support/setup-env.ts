// Every test process starts from a known environment: no developer's .env or
// shell variables leak into a test's configuration.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'error';
