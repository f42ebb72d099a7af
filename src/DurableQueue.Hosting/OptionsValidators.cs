using Microsoft.Extensions.Options;

namespace DurableQueue.Hosting;

/// <summary>Validates <see cref="DurableQueueOptions"/> from its DataAnnotations, without reflection.</summary>
[OptionsValidator]
internal sealed partial class DurableQueueOptionsValidator : IValidateOptions<DurableQueueOptions>
{
}

/// <summary>Validates <see cref="QueueHandlerOptions"/> from its DataAnnotations, without reflection.</summary>
[OptionsValidator]
internal sealed partial class QueueHandlerOptionsValidator : IValidateOptions<QueueHandlerOptions>
{
}
