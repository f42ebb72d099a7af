using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;

namespace DurableQueue.Internal;

internal static class OptionsValidation
{
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Options types are preserved by the library.")]
    public static void Validate(object options, string parameterName)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            var message = string.Join(" ", results.Select(r => r.ErrorMessage));
            throw new ArgumentException(
                $"The {options.GetType().Name} are invalid: {message}", parameterName);
        }
    }
}
