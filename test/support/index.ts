export { schemaFingerprint } from './fingerprint.ts';
export { worldTest } from './fixtures.ts';
export { createTestWorld, type TestWorld } from './isolation.ts';
export { childrenOf, isRunning, type ProcStat, readProcStat, TICKS_PER_SECOND } from './proc.ts';
export { type ServiceProcess, startServiceProcess } from './process.ts';
export { freePort, type OwnRedisServer, startOwnRedisServer } from './redis-server.ts';
export { seedResource } from './resources.ts';
export {
  type SaslListener,
  type ServiceUrls,
  type SslListener,
  saslListener,
  serviceUrls,
  sslListener,
} from './services.ts';
export { type CaughtMail, type SmtpCatcher, startSmtpCatcher } from './smtp.ts';
export { type TopicTail, tailTopic } from './topics.ts';
export { eventually } from './wait.ts';
