import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG } from '../config/config.module';
import { AppConfig } from '../config/config.types';
import { CREDENTIALS_CACHE_OPTIONS, CredentialsCacheOptions } from './credentials-cache';
import { CredentialsKeyRotation } from './credentials-key-rotation.service';
import { CredentialsController } from './credentials.controller';
import { CredentialsRepository } from './credentials.repository';
import { CredentialsService } from './credentials.service';
import { EnvelopeCipher } from './crypto/envelope-cipher';
import { MasterKeyRing, masterKeyRingProvider } from './crypto/master-key-ring';
import { EncryptedCredential } from './encrypted-credential.entity';

/** Decrypted values live at most this long in a process, whatever CACHE_TTL says. */
const MAX_CACHE_TTL_MS = 5 * 60_000;
const CACHE_ENTRIES = 1000;

/**
 * The credentials vault: REST under /credentials, CredentialsService for
 * connectors, CredentialsKeyRotation for the CLI. Needs the global
 * ConfigModule, DatabaseModule, StoreModule and AuditModule (the REST
 * controller is @Audited). EnvelopeCipher runs its
 * self-test at init, so a bad master key stops the boot.
 */
@Module({
  imports: [TypeOrmModule.forFeature([EncryptedCredential])],
  controllers: [CredentialsController],
  providers: [
    masterKeyRingProvider,
    EnvelopeCipher,
    CredentialsRepository,
    CredentialsService,
    CredentialsKeyRotation,
    {
      provide: CREDENTIALS_CACHE_OPTIONS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): CredentialsCacheOptions => ({
        maxEntries: CACHE_ENTRIES,
        ttlMs: Math.min(Math.max(0, config.cacheTtlSeconds) * 1000, MAX_CACHE_TTL_MS),
      }),
    },
  ],
  exports: [CredentialsService, CredentialsKeyRotation, MasterKeyRing],
})
export class CredentialsModule {}
