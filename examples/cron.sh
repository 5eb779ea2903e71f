#!/usr/bin/env bash
# Nightly check of a customer list with `migo masivo`, for cron.
#
#   crontab -e     (every night at 02:30, Lima time)
#     CRON_TZ=America/Lima
#     30 2 * * *  . /etc/migo.env; /opt/migo/examples/cron.sh /datos/clientes.xlsx /datos/verificados
#
#   /etc/migo.env (chmod 600: it holds the token; or use migo's config file)
#     export MIGO_TOKEN=...
#     export MIGO_CACHE_DIR=/var/cache/migo      # optional
#
# Writes DESTINO/verificados-AAAA-MM-DD.xlsx, its JSON summary and a log per night
# (DESTINO/logs/migo-AAAA-MM-DD.log). The night's run uses --refrescar: every RUC is
# asked again, so what changed since the last night (NO HABIDO, baja, razón social,
# dirección) is in the `cambio` column and the `cambios` sheet. Exit codes are migo's
# (README, "Códigos de salida"); a partial run (1) is retried once, without
# --refrescar: the cache means only the failed RUCs are asked again.
# Set MIGO_ALERTA to a command that gets the message as its argument (mail, Slack
# webhook...) to hear about anything but a complete run.
# Changes: when the summary counts `cambios`, the output is copied to
# DESTINO/cambios-AAAA-MM-DD.xlsx (a retry's to ...-2.xlsx) and MIGO_CAMBIOS (else
# MIGO_ALERTA) is called with the message and that file, e.g. a script running
#   mail -s "$1" -A "$2" contabilidad@empresa.pe </dev/null
# Extra options for migo: MIGO_OPCIONES="--rpm 600 --estricto".
# SUNAT's padrón: with MIGO_FUENTE=auto (or padron) in /etc/migo.env, the night first
# runs `migo padron actualizar` (SUNAT's free daily list), then the check answers from it
# and pays APIMIGO only for RUCs it does not hold (README, "Ahorrar consultas con el
# padrón de SUNAT"). A failed update is logged and the check goes on with the padrón
# already there (migo warns when it is older than 7 days); with none at all, migo exits 2.
set -uo pipefail

if [[ $# -lt 1 ]]; then
    echo "uso: $0 ENTRADA [DESTINO]" >&2
    exit 2
fi
ENTRADA=$1
DESTINO=${2:-$(dirname -- "$ENTRADA")}
MIGO=${MIGO:-migo}
REINTENTO_SEGUNDOS=${REINTENTO_SEGUNDOS:-300}
read -r -a OPCIONES <<<"${MIGO_OPCIONES:-}"

FECHA=$(date +%F)
mkdir -p -- "$DESTINO/logs" || exit 2
LOG="$DESTINO/logs/migo-$FECHA.log"
SALIDA="$DESTINO/verificados-$FECHA.xlsx"
RESUMEN="$DESTINO/resumen-$FECHA.json"

registrar() {
    printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$LOG"
}

alertar() {
    registrar "$1"
    if [[ -n ${MIGO_ALERTA:-} ]]; then
        ${MIGO_ALERTA} "migo ($FECHA): $1" >>"$LOG" 2>&1 || registrar "la alerta falló"
    fi
}

ejecutar() {
    registrar "inicio: $ENTRADA -> $SALIDA"
    rm -f -- "$RESUMEN"  # a summary left from an earlier run must not be read as this one's
    # No -q: the log keeps a progress line every few seconds and the final summary.
    # No token check here: migo reads MIGO_TOKEN or its config file, and exits 2 without one.
    "$MIGO" masivo "$ENTRADA" -o "$SALIDA" --json-resumen "$RESUMEN" "$@" "${OPCIONES[@]}" \
        </dev/null >>"$LOG" 2>&1
}

# The resumen's "cambios" (rows with a cambio); 0 when there is no summary.
cambios() {
    local n
    n=$(sed -n 's/.*"cambios": *\([0-9][0-9]*\).*/\1/p' "$RESUMEN" 2>/dev/null | head -n 1)
    echo "${n:-0}"
}

# A published output with changes is kept apart (a retry overwrites SALIDA and, its
# answers coming from the cache, would not show them again) and sent on.
avisar_cambios() {
    local n copia
    n=$(cambios)
    [[ $n -gt 0 && -f $SALIDA ]] || return 0
    copia="$DESTINO/cambios-$FECHA$1.xlsx"
    cp -- "$SALIDA" "$copia" || { registrar "no se pudo copiar $SALIDA a $copia"; return 0; }
    local mensaje="$n RUC cambiaron desde la revisión anterior: hoja cambios de $copia"
    registrar "$mensaje"
    local aviso=${MIGO_CAMBIOS:-${MIGO_ALERTA:-}}
    if [[ -n $aviso ]]; then
        ${aviso} "migo ($FECHA): $mensaje" "$copia" >>"$LOG" 2>&1 || registrar "el aviso de cambios falló"
    fi
}

case ${MIGO_FUENTE:-api} in
    auto | padron)
        registrar "padrón: actualizando"
        if "$MIGO" padron actualizar </dev/null >>"$LOG" 2>&1; then
            registrar "padrón: actualizado"
        else
            registrar "padrón: no se pudo actualizar (código $?); se usa el anterior"
        fi
        ;;
esac

ejecutar --refrescar
codigo=$?
avisar_cambios ""
if [[ $codigo -eq 1 ]]; then
    registrar "parcial: se reintenta en $REINTENTO_SEGUNDOS s (solo los RUC con error)"
    sleep "$REINTENTO_SEGUNDOS"
    ejecutar
    codigo=$?
    avisar_cambios "-2"
fi

case $codigo in
    0)
        registrar "completo: $SALIDA"
        ;;
    1)
        alertar "parcial: algunos RUC quedaron con error tras el reintento; ver $SALIDA (hoja errores)"
        ;;
    2)
        alertar "error de uso o de entrada (archivo, columna, salida bloqueada, saldo con --estricto, sin padrón con MIGO_FUENTE); ver $LOG"
        ;;
    3)
        alertar "token rechazado o consultas agotadas: revise la cuenta (migo cuenta); lo respondido está en $SALIDA"
        ;;
    130 | 143)
        alertar "interrumpido (código $codigo); lo respondido está en $SALIDA"
        ;;
    *)
        alertar "código inesperado $codigo; ver $LOG"
        ;;
esac
exit "$codigo"
