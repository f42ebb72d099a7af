using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cronos;
using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DurableQueue.Hosting;

/// <summary>
/// Registers the handlers and recurring jobs of the queue store added by <c>AddDurableQueue</c>.
/// </summary>
public sealed class DurableQueueBuilder
{
    private readonly HandlerCatalog _catalog;
    private readonly string _sectionPath;

    internal DurableQueueBuilder(IServiceCollection services, HandlerCatalog catalog, string sectionPath)
    {
        Services = services;
        _catalog = catalog;
        _sectionPath = sectionPath;
    }

    /// <summary>Gets the service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Opens the store with <paramref name="open"/> instead of the SQLite file at <see cref="DurableQueueOptions.Path"/>:
    /// how a backend package (PostgreSQL's <c>UsePostgres</c>) plugs in. Handlers, jobs, schedules, telemetry and the
    /// health check work the same on any store.
    /// </summary>
    /// <param name="open">Opens the store, given the services and the store options the hosting layer derived from <see cref="DurableQueueOptions"/>.</param>
    /// <returns>This builder.</returns>
    public DurableQueueBuilder UseStore(Func<IServiceProvider, QueueStoreOptions, QueueStore> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        Services.RemoveAll<StoreOpener>();
        Services.AddSingleton(new StoreOpener(open));
        return this;
    }

    /// <summary>Registers a handler of raw messages for a queue, and a worker that runs it.</summary>
    /// <typeparam name="THandler">The handler type; resolved from a new DI scope for each message.</typeparam>
    /// <param name="queueName">The queue name.</param>
    /// <param name="configure">Sets the handler options, after those bound from <c>DurableQueue:Queues:{queueName}</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The queue has a handler already.</exception>
    public DurableQueueBuilder AddHandler<THandler>(string queueName, Action<QueueHandlerOptions>? configure = null)
        where THandler : class, IMessageHandler =>
        Add<THandler>(queueName, configure, returnsResult: false, static async (sp, context, ct) =>
        {
            await sp.GetRequiredService<THandler>().HandleAsync(context, ct).ConfigureAwait(false);
            return null;
        });

    /// <summary>Registers a handler of JSON messages for a queue, and a worker that runs it.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <typeparam name="THandler">The handler type; resolved from a new DI scope for each message.</typeparam>
    /// <param name="queueName">The queue name.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="TMessage"/>; the body is read as this type only, never as a type named in the payload.</param>
    /// <param name="configure">Sets the handler options, after those bound from configuration.</param>
    /// <returns>This builder.</returns>
    /// <remarks>A body that cannot be read as <typeparamref name="TMessage"/> is dead-lettered at once: a retry could not help.</remarks>
    public DurableQueueBuilder AddHandler<TMessage, THandler>(string queueName, JsonTypeInfo<TMessage> typeInfo, Action<QueueHandlerOptions>? configure = null)
        where THandler : class, IMessageHandler<TMessage>
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return Add<THandler>(queueName, configure, returnsResult: false, async (sp, context, ct) =>
        {
            var message = HandlerRegistration.Deserialize(context.Message, typeInfo);
            await sp.GetRequiredService<THandler>().HandleAsync(message, context, ct).ConfigureAwait(false);
            return null;
        });
    }

    /// <summary>Registers a job handler that returns a result, and a worker that runs it.</summary>
    /// <typeparam name="TArgument">The job's argument type.</typeparam>
    /// <typeparam name="TResult">The job's result type.</typeparam>
    /// <typeparam name="THandler">The handler type; resolved from a new DI scope for each job.</typeparam>
    /// <param name="queueName">The queue name.</param>
    /// <param name="argumentTypeInfo">The JSON metadata of <typeparamref name="TArgument"/>.</param>
    /// <param name="resultTypeInfo">The JSON metadata of <typeparamref name="TResult"/>.</param>
    /// <param name="configure">Sets the handler options, after those bound from configuration.</param>
    /// <returns>This builder.</returns>
    public DurableQueueBuilder AddJobHandler<TArgument, TResult, THandler>(
        string queueName, JsonTypeInfo<TArgument> argumentTypeInfo, JsonTypeInfo<TResult> resultTypeInfo, Action<QueueHandlerOptions>? configure = null)
        where THandler : class, IJobHandler<TArgument, TResult>
    {
        ArgumentNullException.ThrowIfNull(argumentTypeInfo);
        ArgumentNullException.ThrowIfNull(resultTypeInfo);
        return Add<THandler>(queueName, configure, returnsResult: true, async (sp, context, ct) =>
        {
            var argument = HandlerRegistration.Deserialize(context.Message, argumentTypeInfo);
            var result = await sp.GetRequiredService<THandler>().HandleAsync(argument, context, ct).ConfigureAwait(false);
            return JsonSerializer.SerializeToUtf8Bytes(result, resultTypeInfo);
        });
    }

    /// <summary>
    /// Registers a recurring job: at each occurrence of the cron expression, a job is submitted to the queue (whose
    /// handler must be registered too). Each occurrence fires once, across restarts and processes sharing the file.
    /// </summary>
    /// <param name="name">The schedule's unique name; its state is stored under it.</param>
    /// <param name="cronExpression">The cron expression (five fields, or six with seconds when <see cref="RecurringJobOptions.Format"/> says so).</param>
    /// <param name="queueName">The queue the jobs go to.</param>
    /// <param name="configure">Sets the schedule's options (time zone, body, priority).</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The cron expression is not valid.</exception>
    /// <exception cref="InvalidOperationException">A recurring job with this name is registered already.</exception>
    public DurableQueueBuilder AddRecurringJob(string name, string cronExpression, string queueName, Action<RecurringJobOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(cronExpression);
        ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        var options = new RecurringJobOptions();
        configure?.Invoke(options);
        CronExpression expression;
        try
        {
            expression = CronExpression.Parse(cronExpression, options.Format);
        }
        catch (CronFormatException ex)
        {
            throw new ArgumentException(HostingErrors.InvalidCron(cronExpression, ex.Message), nameof(cronExpression), ex);
        }

        _catalog.Add(new RecurringJob(name, cronExpression, expression, queueName, options));
        return this;
    }

    private DurableQueueBuilder Add<THandler>(
        string queueName,
        Action<QueueHandlerOptions>? configure,
        bool returnsResult,
        Func<IServiceProvider, MessageContext, CancellationToken, ValueTask<byte[]?>> invoke)
        where THandler : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        var registration = new HandlerRegistration(queueName, returnsResult, invoke);
        _catalog.Add(registration);

        var options = Services.AddOptions<QueueHandlerOptions>(queueName).BindConfiguration($"{_sectionPath}:Queues:{queueName}");
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        Services.TryAddScoped<THandler>();
        Services.AddSingleton<IHostedService>(sp => new QueueWorker(
            registration,
            sp.GetRequiredService<IOptionsMonitor<QueueHandlerOptions>>().Get(queueName),
            sp.GetRequiredService<JobStore>(),
            sp.GetRequiredService<IServiceScopeFactory>(),
            sp.GetRequiredService<IRetryBackoff>(),
            sp.GetRequiredService<HostingTelemetry>(),
            sp.GetRequiredService<WorkerEvents>(),
            sp.GetRequiredService<ILogger<QueueWorker>>()));
        return this;
    }
}
