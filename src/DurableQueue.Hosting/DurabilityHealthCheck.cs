using DurableQueue;
using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DurableQueue.Hosting
{
    /// <summary>
    /// Reports the durability doctor's findings as a health check: unhealthy on an error (network file system, quota
    /// reached), degraded on a warning (RAM disk, Durability.Normal, low disk space, WAL held past its limit, clock jump).
    /// </summary>
    internal sealed class DurabilityHealthCheck(JobStore jobs, DiagnoseOptions? options) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            DurabilityReport report;
            try
            {
                report = await jobs.Store.DiagnoseAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, "The durability of the queue store could not be checked.", ex);
            }

            var data = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["file_system"] = report.FileSystem ?? "unknown",
            };
            foreach (var finding in report.Findings)
            {
                data[finding.Code] = finding.Summary;
            }

            var problems = report.Findings.Where(f => f.Severity > FindingSeverity.Info).Select(f => f.ToString()).ToList();
            var status = report.HighestSeverity switch
            {
                FindingSeverity.Error => context.Registration.FailureStatus,
                FindingSeverity.Warning => HealthStatus.Degraded,
                _ => HealthStatus.Healthy,
            };
            var description = problems.Count == 0 ? "The queue store's place and settings keep its durability promises." : string.Join("; ", problems);
            return new HealthCheckResult(status, description, data: data);
        }
    }
}

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Adds DurableQueue's durability check to a health checks builder.</summary>
    public static class DurableQueueHealthChecksBuilderExtensions
    {
        /// <summary>
        /// Adds a health check that runs the durability doctor (<see cref="QueueStore.DiagnoseAsync"/>) on the hosted store:
        /// unhealthy (or the failure status) on an error finding, degraded on a warning.
        /// </summary>
        /// <param name="builder">The health checks builder.</param>
        /// <param name="name">The check's name.</param>
        /// <param name="options">The doctor's thresholds, or <see langword="null"/> for the defaults; the fsync probe never runs in a health check.</param>
        /// <param name="tags">Tags to filter checks by, or <see langword="null"/>.</param>
        /// <returns>The health checks builder.</returns>
        public static IHealthChecksBuilder AddDurableQueueDurability(
            this IHealthChecksBuilder builder, string name = "durablequeue-durability", DiagnoseOptions? options = null, IEnumerable<string>? tags = null)
        {
            ArgumentNullException.ThrowIfNull(builder);
            DiagnoseOptions? copy = null;
            if (options is not null)
            {
                copy = new DiagnoseOptions
                {
                    MinimumFreeDiskBytes = options.MinimumFreeDiskBytes,
                    ClockJumpTolerance = options.ClockJumpTolerance,
                    FsyncTooFastBelow = options.FsyncTooFastBelow,
                    ProbeFsync = false,
                };
            }

            return builder.Add(new HealthCheckRegistration(
                name, sp => new DurableQueue.Hosting.DurabilityHealthCheck(sp.GetRequiredService<JobStore>(), copy), failureStatus: null, tags));
        }
    }
}
