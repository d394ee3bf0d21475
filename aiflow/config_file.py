"""The optional config file, ``$AIFLOW_HOME/aiflow.toml`` or ``aiflow.yaml`` / ``aiflow.yml``.

pydantic-settings reads and parses the file (``TomlConfigSettingsSource``,
``YamlConfigSettingsSource``); this module adds what a hand-edited file needs and those sources
leave out, so that a mistake fails loudly, naming the file and the key, instead of being
silently ignored:

* **one file**: if more than one of the names exists, nothing is read and the error names them
  all. Picking one by a precedence rule would silently ignore the other, which is exactly the
  file the user may be editing;
* **syntax**: a malformed file raises ``InvalidInput`` naming the file and where it is broken;
  YAML keys that appear twice are an error too (TOML's parser already refuses them; PyYAML
  would keep the last one without a word);
* **keys**: an unknown section or key (a typo such as ``[metastor]`` or ``prot``) is an error
  listing the valid ones -- the settings model itself ignores unknown keys, because it must
  tolerate unrelated ``AIFLOW__*`` variables in the environment;
* **values**: each value is validated here, against the file alone, so a bad one is reported as
  ``file: section.key: message`` -- the model's own error could not say whether the bad value
  came from the file or from the environment. Input values are never echoed (a secret key may
  be the bad value).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_settings import TomlConfigSettingsSource, YamlConfigSettingsSource

from aiflow.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

CONFIG_FILE_NAMES: Final = ("aiflow.toml", "aiflow.yaml", "aiflow.yml")


def find_config_file(home: Path) -> Path | None:
    """The config file in ``home``, ``None`` if there is none; ``InvalidInput`` if several."""
    found = [home / name for name in CONFIG_FILE_NAMES if (home / name).is_file()]
    if len(found) > 1:
        names = " and ".join(str(path) for path in found)
        raise InvalidInput(
            f"found {len(found)} config files, {names}: aiflow reads exactly one. Merge them "
            "into one file and remove the others"
        )
    return found[0] if found else None


def config_file_source(
    settings_cls: type[BaseSettings], home: Path
) -> PydanticBaseSettingsSource | None:
    """The settings source for the config file in ``home``, or ``None`` without one."""
    path = find_config_file(home)
    if path is None:
        return None
    if path.suffix == ".toml":
        return _TomlFile(settings_cls, toml_file=path)
    return _YamlFile(settings_cls, yaml_file=path)


class _TomlFile(TomlConfigSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], **kwargs: Any) -> None:
        self._model = settings_cls  # the base class parses (_read_file) inside its __init__
        super().__init__(settings_cls, **kwargs)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        import tomllib

        try:
            data = super()._read_file(file_path)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"config file {file_path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"config file {file_path} is not UTF-8 text: {exc}") from None
        check_config(data, self._model, file_path)
        return data


class _YamlFile(YamlConfigSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], **kwargs: Any) -> None:
        self._model = settings_cls  # the base class parses (_read_file) inside its __init__
        super().__init__(settings_cls, **kwargs)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        import yaml

        try:
            with Path(file_path).open(encoding="utf-8") as stream:
                data = yaml.load(stream, Loader=_unique_key_loader())  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise InvalidInput(
                f"config file {file_path} is not valid YAML: {_one_line(exc)}"
            ) from None
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"config file {file_path} is not UTF-8 text: {exc}") from None
        if data is None:  # an empty file, or only comments
            return {}
        if not isinstance(data, dict):
            raise InvalidInput(
                f"config file {file_path} must be a mapping of sections (`metastore:`, "
                f"`server:`, ...); it is a {type(data).__name__}"
            )
        check_config(data, self._model, file_path)
        return data


def _one_line(exc: Exception) -> str:
    """PyYAML's multi-line message as one line (the CLI prints errors on one line)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return " ".join(str(exc).split())
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def _unique_key_loader() -> type[Any]:
    """PyYAML's ``SafeLoader``, refusing a key that appears twice in one mapping.

    Built on first use so that importing aiflow's config does not import PyYAML.
    """
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Hashable, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, Hashable) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found key {key!r} twice",
                        key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    _LOADER = UniqueKeyLoader
    return _LOADER


_LOADER: type[Any] | None = None


def check_config(data: dict[str, Any], model: type[BaseModel], path: Any) -> None:
    """Raise ``InvalidInput`` for the first unknown key or invalid value in ``data`` (the
    parsed file), naming ``path`` and the dotted key."""
    _check_section(data, model, path, prefix="")


def _check_section(data: dict[Any, Any], model: type[BaseModel], path: Any, prefix: str) -> None:
    fields = model.model_fields
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            hint = " (AIFLOW_HOME is read from the environment only)" if dotted == "home" else ""
            what = "key" if prefix else "section or key"
            raise InvalidInput(
                f"config file {path}: unknown {what} '{dotted}'{hint}; valid here: "
                f"{', '.join(fields)}"
            )
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(value, dict):
                raise InvalidInput(
                    f"config file {path}: '{dotted}' must be a section of keys "
                    f"({', '.join(annotation.model_fields)}); it is a {type(value).__name__}"
                )
            _check_section(value, annotation, path, prefix=f"{dotted}.")
            continue
        try:
            # Annotated with the FieldInfo: its constraints (port <= 65535, ...) apply too.
            form: Any = Annotated[annotation, field]
            TypeAdapter(form).validate_python(value)
        except ValidationError as exc:
            error = exc.errors(include_input=False, include_url=False)[0]
            raise InvalidInput(f"config file {path}: '{dotted}': {error['msg']}") from None
