import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'sentia:isPublic';

/** Opts a route or controller out of the global authentication guard. */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(IS_PUBLIC, true);
