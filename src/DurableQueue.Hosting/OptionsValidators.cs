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

/// <summary>How the registered store is opened when it is not the SQLite file at <see cref="DurableQueueOptions.Path"/>.</summary>
internal sealed record StoreOpener(Func<IServiceProvider, QueueStoreOptions, QueueStore> Open);

/// <summary>Requires a file path unless another backend opens the store.</summary>
internal sealed class StoreLocationValidator(IServiceProvider services) : IValidateOptions<DurableQueueOptions>
{
    public ValidateOptionsResult Validate(string? name, DurableQueueOptions options) =>
        string.IsNullOrWhiteSpace(options.Path) && services.GetService(typeof(StoreOpener)) is null
            ? ValidateOptionsResult.Fail(
                "DurableQueueOptions.Path: the path of the database file is required (set DurableQueue:Path in configuration), " +
                "unless the store comes from another backend (UsePostgres or UseStore).")
            : ValidateOptionsResult.Success;
}
