export { createTestWorld, type TestWorld } from './isolation.ts';
export { childrenOf, isRunning, type ProcStat, readProcStat, TICKS_PER_SECOND } from './proc.ts';
export { type ServiceProcess, startServiceProcess } from './process.ts';
export { type OwnRedisServer, startOwnRedisServer } from './redis-server.ts';
export { seedResource } from './resources.ts';
export { type ServiceUrls, serviceUrls } from './services.ts';
export { type CaughtMail, type SmtpCatcher, startSmtpCatcher } from './smtp.ts';
export { type TopicTail, tailTopic } from './topics.ts';
export { eventually } from './wait.ts';
